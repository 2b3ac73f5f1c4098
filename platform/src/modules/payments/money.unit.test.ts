import { describe, expect, it } from 'vitest';
import { formatMoney, paymentMatchesOrder, refundUnits } from './money.ts';

describe('whether a payment matches its order of 49,900 INR', () => {
  const order = { amountMinor: 49_900, currency: 'INR' };
  it.each<[string, { amountMinor?: number; currency?: string }]>([
    ['the same amount and currency', { amountMinor: 49_900, currency: 'INR' }],
    ['nothing known of the payment', {}],
    ['only the amount known, and equal', { amountMinor: 49_900 }],
    ['only the currency known, and equal', { currency: 'INR' }],
  ])('accepts %s', (_case, payment) => {
    expect(paymentMatchesOrder(order, payment)).toBe(true);
  });

  it.each<[string, { amountMinor?: number; currency?: string }]>([
    ['one paisa less', { amountMinor: 49_899, currency: 'INR' }],
    ['one paisa more', { amountMinor: 49_901, currency: 'INR' }],
    ['a zero amount', { amountMinor: 0, currency: 'INR' }],
    ['the same amount in another currency', { amountMinor: 49_900, currency: 'USD' }],
    ['the currency in another case', { amountMinor: 49_900, currency: 'inr' }],
    ['only the currency known, and different', { currency: 'USD' }],
  ])('refuses %s', (_case, payment) => {
    expect(paymentMatchesOrder(order, payment)).toBe(false);
  });
});

describe('what a refund takes back from 1,800 units bought for 49,900', () => {
  const pack = { units: 1800, amountMinor: 49_900 };
  it.each<[string, { refund: number; units: number }]>([
    ['nothing for a refund of nothing', { refund: 0, units: 0 }],
    ['every unit for the whole amount', { refund: 49_900, units: 1800 }],
    ['half the units for half the amount', { refund: 24_950, units: 900 }],
    ['nothing for a paisa (less than half a unit)', { refund: 1, units: 0 }],
    ['one unit for just over half a unit', { refund: 14, units: 1 }],
    ['a third, to the nearest unit', { refund: 16_633, units: 600 }],
    ['twice the units for twice the amount (the ledger takes at most the balance)', { refund: 99_800, units: 3600 }],
  ])('takes %s', (_case, { refund, units }) => {
    expect(refundUnits(pack, refund)).toBe(units);
  });
});

describe('how an amount reads', () => {
  it.each([
    [49_900, 'INR', '₹499.00'],
    [0, 'INR', '₹0.00'],
    [1, 'INR', '₹0.01'],
    [100_000_000, 'INR', '₹10,00,000.00'],
    [1250, 'USD', '$12.50'],
  ])('reads %i %s as %s', (amountMinor, currency, text) => {
    expect(formatMoney(amountMinor, currency)).toBe(text);
  });
});
