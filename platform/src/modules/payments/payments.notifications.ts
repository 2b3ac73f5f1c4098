import { z } from 'zod';
import { escapeHtml } from '#platform/kernel/http/html.ts';
import { defineNotification } from '#platform/kernel/lifecycle/define-notification.ts';
import { RECEIPT_NOTIFICATION } from './payments.service.ts';

/** Units as people read them: 1800 seconds → "30 minutes". */
export function describeUnits(units: number, unit: string): string {
  if (unit === 'seconds') {
    const minutes = Math.floor(units / 60);
    const seconds = units % 60;
    return seconds === 0 ? `${minutes} minutes` : `${minutes} min ${seconds} s`;
  }
  return `${units.toLocaleString('en')} ${unit}`;
}

export const paymentReceiptNotice = defineNotification({
  type: RECEIPT_NOTIFICATION,
  title: 'Payment receipt',
  data: z.object({
    orderId: z.string(),
    paymentId: z.string(),
    pack: z.string(),
    units: z.number().int(),
    unit: z.string(),
    amount: z.string(),
    link: z.url(),
    /** This order's receipt page (receipts queued before it existed have none). */
    receiptLink: z.url().optional(),
    /** The app the pack is for: the email carries its name. */
    app: z.string().optional(),
    /** Paid through a test gateway or a test key: no money moved, and the receipt says TEST. */
    testMode: z.boolean().default(false),
  }),
  channels: ['in_app', 'email'],
  mandatory: true,
  render: (data) => {
    const what = describeUnits(data.units, data.unit);
    const test = data.testMode ? 'TEST payment: no money moved. ' : '';
    const receipt = data.receiptLink === undefined ? '' : `\nThis receipt: ${data.receiptLink}`;
    const receiptHtml =
      data.receiptLink === undefined ? '' : ` · <a href="${escapeHtml(data.receiptLink)}">This receipt</a>`;
    return {
      title: `${data.testMode ? 'TEST ' : ''}Receipt: ${what} for ${data.amount}`,
      ...(data.app === undefined ? {} : { app: data.app }),
      text: `${test}Thank you for your purchase.\n\nPack: ${data.pack} (${what})\nPaid: ${data.amount}\nPayment: ${data.paymentId}\nOrder: ${data.orderId}\n\nYour purchases: ${data.link}${receipt}`,
      html: `${data.testMode ? '<p><strong>TEST payment: no money moved.</strong></p>' : ''}<p>Thank you for your purchase.</p><table><tr><td>Pack</td><td>${escapeHtml(data.pack)} (${escapeHtml(what)})</td></tr><tr><td>Paid</td><td>${escapeHtml(data.amount)}</td></tr><tr><td>Payment</td><td>${escapeHtml(data.paymentId)}</td></tr><tr><td>Order</td><td>${escapeHtml(data.orderId)}</td></tr></table><p><a href="${escapeHtml(data.link)}">Your purchases</a>${receiptHtml}</p>`,
    };
  },
});
