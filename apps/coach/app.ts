import { defineApp } from '@ballast/platform';

/** coach: an AI voice coach. Talk-time bought with Razorpay, calls metered by heartbeat. */
export default defineApp({
  name: 'coach',
  title: 'Voice coach',
  summary: 'Buy talk-time and talk with an AI coach; a personal care plan arrives by email after each call.',
  status: 'coming-soon',
  roles: [{ name: 'user', title: 'Coach user', selfService: true }],
  migrations: new URL('./migrations/', import.meta.url).pathname,
});
