import { describe, expect, it } from 'vitest';
import { formatDate, formatDateTime, formatDuration, formatMoney, formatNumber } from './format.ts';

describe('formatting for the reader', () => {
  it.each([
    [0, 'en', '0 sec'],
    [39, 'en', '39 sec'],
    [60, 'en', '1 min'],
    [1779, 'en', '29 min 39 sec'],
    [1800, 'en', '30 min'],
    [3725, 'en', '1 hr 2 min 5 sec'],
    [-5, 'en', '0 sec'],
    [89.9, 'en', '1 min 29 sec'],
  ])('writes %s seconds in %s as "%s"', (seconds, locale, expected) => {
    expect(formatDuration(seconds, { locale })).toBe(expected);
  });

  it('writes dates in the reader’s locale and time zone, not the server’s', () => {
    const at = '2026-12-03T23:30:00Z';
    expect(formatDate(at, { locale: 'en-GB', timeZone: 'UTC' })).toBe('3 December 2026');
    expect(formatDate(at, { locale: 'en-US', timeZone: 'UTC' })).toBe('December 3, 2026');
    // Half past eleven at night in UTC is already the next morning in Kolkata.
    expect(formatDate(at, { locale: 'en-GB', timeZone: 'Asia/Kolkata' })).toBe('4 December 2026');
    expect(formatDateTime(at, { locale: 'en-GB', timeZone: 'UTC' })).toBe('3 Dec 2026, 23:30 UTC');
  });

  it('groups numbers and writes money by locale', () => {
    expect(formatNumber(12345, { locale: 'en-US' })).toBe('12,345');
    expect(formatNumber(12345, { locale: 'de-DE' })).toBe('12.345');
    expect(formatMoney(49900, 'INR', { locale: 'en-IN' })).toBe('₹499.00');
    expect(formatMoney(49900, 'INR', { locale: 'en-US' })).toBe('₹499.00');
  });
});
