import { defineApp } from '@ballast/platform';
import { coachSettings } from './settings.ts';

/** coach: an AI voice coach. Talk-time bought with Razorpay, calls metered by heartbeat. */
export default defineApp({
  name: 'coach',
  title: 'Voice coach',
  summary: 'Buy talk-time and talk with an AI coach; a personal care plan arrives by email after each call.',
  status: 'coming-soon',
  roles: [{ name: 'user', title: 'Coach user', selfService: true }],
  settings: coachSettings,
  migrations: new URL('./migrations/', import.meta.url).pathname,
  // Talk-time is counted in seconds: calls debit exactly what they metered.
  payments: (settings) => ({
    unit: 'seconds',
    packs: settings.packs.map((pack) => ({
      id: pack.id,
      title: pack.title,
      units: pack.minutes * 60,
      amountMinor: pack.amountMinor,
      currency: pack.currency,
    })),
  }),
});
