import { AppError, defineApp, z } from '@ballast/platform';
import { coachAdminUser } from './server/coach.admin.ts';
import { carePlanReadyNotice } from './server/coach.notifications.ts';
import { coachRoutes } from './server/coach.routes.ts';
import type { CoachContext } from './server/coach.service.ts';
import type { DB as CoachDB } from './server/coach.db.ts';
import { coachSettings, type CoachSettings } from './settings.ts';
import { settleCallTask } from './tasks/settle-call.task.ts';
import { onCallsEnded, writeCarePlanTask } from './tasks/write-care-plan.task.ts';

const heartbeat = z.object({ sessionId: z.uuid() });

/** coach: an AI voice coach. Talk-time bought with Razorpay, calls metered by heartbeat. */
export default defineApp<CoachSettings, CoachDB>({
  name: 'coach',
  title: 'Voice coach',
  summary: 'Buy talk-time and talk with an AI coach; a personal care plan arrives by email after each call.',
  status: 'available',
  roles: [{ name: 'user', title: 'Coach user', selfService: true }],
  settings: coachSettings,
  migrations: new URL('./migrations/', import.meta.url).pathname,
  routes: coachRoutes,
  pages: { '/': 'Talk with your coach' },
  tasks: [writeCarePlanTask, settleCallTask],
  notifications: [carePlanReadyNotice],
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
  metering: { unit: 'seconds', onEnded: onCallsEnded },
  // An administrator's view of one user shows their calls.
  adminUser: coachAdminUser,
  // Care plans are written by the coach's own LLM choice (COACH_AI_*), else the AI_* default.
  ai: (settings) => settings.ai,
  // The browser talks to the ElevenLabs agent directly (signed URL) when it is configured.
  connectSources: (settings) =>
    settings.elevenLabs === undefined ? [] : ['wss://api.elevenlabs.io', 'https://api.elevenlabs.io'],
  realtimeRequests: {
    // The browser's heartbeat over the live socket: `{"type":"request","name":"call.heartbeat","data":{"sessionId"}}`.
    'call.heartbeat': async (userId, data, ctx: CoachContext) => {
      const parsed = heartbeat.safeParse(data);
      if (!parsed.success) {
        throw new AppError('invalid_input', 'coach.invalid_heartbeat', 'Send {"sessionId": "<call id>"}');
      }
      return ctx.metering.heartbeat(userId, parsed.data.sessionId);
    },
  },
});
