import { defineTask, z, type MeteredSession, type TaskContext, type Tx } from '@ballast/platform';
import { coachService, type CoachContext } from '../server/coach.service.ts';
import { carePlanReadyNotice } from '../server/coach.notifications.ts';
import { settleCallTask } from './settle-call.task.ts';

/**
 * After a call: ask the LLM (or the template) for a care plan, store it and email it. Safe to
 * retry at any point: the plan is stored once (its session is the key), and the email's
 * idempotency key is the session, so a retry after a crash never emails twice.
 */
export const writeCarePlanTask = defineTask({
  name: 'coach.write-care-plan',
  payload: z.object({ sessionId: z.uuid() }),
  // One plan per call, however often its end is retried.
  dedupeKey: ({ sessionId }) => `care-plan:${sessionId}`,
  retries: 4,
  retryDelaySeconds: 10,
  handler: async ({ sessionId }, ctx: TaskContext<CoachContext>) => {
    const coach = coachService(ctx);
    const session = await ctx.metering.get(sessionId);
    const call = await coach.calls.call(sessionId);
    if (session === undefined || call === undefined) {
      ctx.log.warn({ sessionId }, 'no such call: nothing to plan');
      return;
    }
    let plan = await coach.calls.carePlan(sessionId);
    if (plan === undefined && session.meteredSeconds < ctx.settings.carePlanMinSeconds) {
      ctx.log.info(
        { sessionId, meteredSeconds: session.meteredSeconds, minimum: ctx.settings.carePlanMinSeconds },
        'call too short for a care plan',
      );
      return;
    }
    if (plan === undefined) {
      const user = await ctx.directory.user(session.userId);
      const written = await coach.writer.write({
        displayName: user?.displayName ?? null,
        meteredSeconds: session.meteredSeconds,
        startedAt: session.startedAt,
        transcript: call.transcript,
        summary: call.summary,
      });
      await ctx.transaction(async ({ db }) => {
        await coach.calls.insertCarePlan(db, {
          session_id: sessionId,
          user_id: session.userId,
          source: written.source,
          title: written.title,
          body: written.body,
        });
      });
      plan = (await coach.calls.carePlan(sessionId))!;
    }
    const user = await ctx.directory.user(plan.user_id);
    await ctx.notify(carePlanReadyNotice, {
      to: { userId: plan.user_id, ...(user === undefined ? {} : { email: user.email }) },
      data: { title: plan.title, body: plan.body, source: plan.source, link: `${ctx.publicUrl}/coach/` },
      idempotencyKey: `care-plan:${sessionId}`,
    });
  },
});

/**
 * Called in the transaction that ends sessions (one, or a storm of hang-ups settled together): the
 * care plan tasks commit with them, and for each ElevenLabs call the task that asks ElevenLabs what
 * was really talked (whether or not the browser heartbeated, and whether or not the post-call
 * webhook ever comes). A few statements for the whole batch, not a few per call.
 */
export async function onCallsEnded(sessions: readonly MeteredSession[], tx: Tx, ctx: CoachContext): Promise<void> {
  const ids = sessions.map((session) => session.id);
  // In the trail with the ends themselves, in one statement for the batch: who ended each call (the
  // caller on a hang-up; else the system, or an operator whose own entry names them), how long it
  // ran and why it ended.
  await ctx.audit(
    sessions.map((session) => ({
      actor: session.endReason === 'hung_up' ? { id: session.userId } : null,
      action: 'coach.call_ended',
      target: { type: 'metered_session', id: session.id },
      details: { userId: session.userId, meteredSeconds: session.meteredSeconds, reason: session.endReason },
    })),
    { tx },
  );
  await ctx.tasks.enqueueMany(
    writeCarePlanTask,
    ids.map((sessionId) => ({ sessionId })),
    { tx },
  );
  const elevenLabs = ctx.settings.elevenLabs;
  if (elevenLabs === undefined) return;
  const calls = await coachService(ctx).calls.callsOf(ids, ctx.within(tx));
  const settle = calls.filter((call) => call.voice_mode === 'elevenlabs').map((call) => call.session_id);
  if (settle.length === 0) return;
  await ctx.tasks.enqueueMany(
    settleCallTask,
    settle.map((sessionId) => ({ sessionId, attempt: 1 })),
    { tx, runAt: new Date(Date.now() + elevenLabs.settleAfterSeconds * 1000) },
  );
}
