import { defineTask, z, type TaskContext } from '@ballast/platform';
import { coachService, type CoachContext } from '../server/coach.service.ts';

/** How long after an ElevenLabs call ended Ballast keeps asking for its final record. */
export const SETTLE_GIVE_UP_HOURS = 24;
/** The longest wait between two questions. */
const MAX_DELAY_SECONDS = 15 * 60;

/**
 * After an ElevenLabs call ends: ask ElevenLabs' conversation API for the final record of each of
 * its conversations not yet recorded (a post-call webhook may never come, and a browser that never
 * heartbeated metered nothing) and bill it. While a conversation is still going or processing,
 * ask again later, each wait twice the last (up to 15 minutes); after 24 hours the call is
 * flagged for an operator instead. Safe to repeat: each conversation is recorded and billed once.
 */
export const settleCallTask = defineTask({
  name: 'coach.settle-call',
  payload: z.object({ sessionId: z.uuid(), attempt: z.number().int().min(1) }),
  dedupeKey: ({ sessionId, attempt }) => `settle-call:${sessionId}:${attempt}`,
  retries: 5,
  retryDelaySeconds: 30,
  handler: async ({ sessionId, attempt }, ctx: TaskContext<CoachContext>) => {
    const coach = coachService(ctx);
    const pending = await coach.settleCall(sessionId);
    if (pending === 0) return;
    const session = await ctx.metering.get(sessionId);
    const endedAt = session?.endedAt?.getTime() ?? Date.now();
    if (Date.now() - endedAt > SETTLE_GIVE_UP_HOURS * 3600 * 1000) {
      ctx.log.warn({ sessionId, pending }, 'ElevenLabs gave no final record of the call: flagged for an operator');
      await coach.calls.flag(sessionId);
      return;
    }
    const base = ctx.settings.elevenLabs?.settleAfterSeconds ?? 60;
    const delaySeconds = Math.min(base * 2 ** attempt, MAX_DELAY_SECONDS);
    await ctx.tasks.enqueue(
      settleCallTask,
      { sessionId, attempt: attempt + 1 },
      { runAt: new Date(Date.now() + delaySeconds * 1000) },
    );
  },
});
