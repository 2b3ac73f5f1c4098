import { defineTask, z } from '@ballast/platform';
import { coachService, type CoachContext } from '../server/coach.service.ts';

/**
 * After a call: ask the LLM (or the template) for a care plan, store it and email it. Safe to
 * retry at any point: the plan is stored once (its session is the key), and the email's
 * idempotency key is the session, so a retry after a crash never emails twice.
 */
export function writeCarePlanTask(ctx: CoachContext) {
  return defineTask({
    name: 'coach.write-care-plan',
    payload: z.object({ sessionId: z.uuid() }),
    retries: 4,
    retryDelaySeconds: 10,
    handler: async ({ sessionId }, task) => {
      const coach = coachService(ctx);
      const session = await ctx.metering.get(sessionId);
      const call = await coach.calls.call(sessionId);
      if (session === undefined || call === undefined) {
        task.log.warn({ sessionId }, 'no such call: nothing to plan');
        return;
      }
      let plan = await coach.calls.carePlan(sessionId);
      if (plan === undefined) {
        const user = await ctx.lookupUser(session.userId);
        const written = await coach.writer.write({
          displayName: user?.displayName ?? null,
          meteredSeconds: session.meteredSeconds,
          startedAt: session.startedAt,
          transcript: call.transcript,
          summary: call.summary,
        });
        const db = ctx.db<unknown>();
        await db.transaction().execute(async (tx) => {
          await coach.calls.insertCarePlan(tx, {
            session_id: sessionId,
            user_id: session.userId,
            source: written.source,
            title: written.title,
            body: written.body,
          });
        });
        plan = (await coach.calls.carePlan(sessionId))!;
      }
      const user = await ctx.lookupUser(plan.user_id);
      await ctx.notify('coach.care-plan-ready', {
        to: { userId: plan.user_id, ...(user === undefined ? {} : { email: user.email }) },
        data: { title: plan.title, body: plan.body, source: plan.source, link: `${ctx.config.http.publicUrl}/coach/` },
        idempotencyKey: `care-plan:${sessionId}`,
      });
    },
  });
}
