import { AppError, PLATFORM_ADMIN, type z, type Router } from '@ballast/platform';
import * as api from '../shared/api.ts';
import { endReasonText } from '../shared/calls.ts';
import { coachService, type CoachContext } from './coach.service.ts';

const sessionParams = api.callParams;

/**
 * When the request arrived (epoch ms), from Fastify's own clock of the reply. Rounded up to the
 * millisecond: `Date.now()` is the current millisecond rounded down and the elapsed time is
 * fractional, so the difference can fall up to 1 ms before the request arrived, and a heartbeat
 * sent at a second's boundary would be billed a second short.
 */
function arrivedAt(reply: { elapsedTime: number }): number {
  return Math.ceil(Date.now() - reply.elapsedTime);
}

function callView(session: {
  id: string;
  status: 'active' | 'ended';
  startedAt: Date;
  maxSeconds: number;
  meteredSeconds: number;
  endedAt: Date | null;
  endReason: string | null;
}): z.output<typeof api.callView> {
  return {
    id: session.id,
    status: session.status,
    startedAt: session.startedAt,
    maxSeconds: session.maxSeconds,
    meteredSeconds: session.meteredSeconds,
    remainingSeconds: Math.max(0, session.maxSeconds - session.meteredSeconds),
    endedAt: session.endedAt,
    endReason: session.endReason,
    endReasonText: session.endReason === null ? null : (endReasonText[session.endReason] ?? session.endReason),
  };
}

/** The coach's API under /api/coach: calls (start, heartbeat, end), history, care plans, webhook, operators. */
export async function coachRoutes(app: Router, ctx: CoachContext): Promise<void> {
  const coach = coachService(ctx);

  app.get(
    '/status',
    {
      schema: { tags: ['coach'], summary: 'Modes this server runs in', response: { 200: api.statusAnswer } },
      config: { access: 'public' },
    },
    async () => ({
      voiceMode: coach.voiceMode,
      carePlanSource: coach.writer.source,
    }),
  );

  app.post(
    '/calls',
    {
      schema: {
        tags: ['coach'],
        summary:
          'Start (or resume) a call; 402 without talk-time or while an earlier call owes some, 409 while the caller talks on another; with `resume`, only resume that live call (409 coach.call_ended when it has ended)',
        body: api.startCallBody,
        response: { 200: api.startCallAnswer, 201: api.startCallAnswer },
      },
      config: { access: 'user' },
    },
    async (request, reply) => {
      const resume = request.body?.resume;
      if (resume !== undefined) {
        const resumed = await coach.resumeCall(request.user!.id, resume, arrivedAt(reply));
        // The time used as of this heartbeat (the stored figure trails it by up to a flush).
        return reply.status(200).send({
          call: callView({ ...resumed.session, meteredSeconds: resumed.meteredSeconds }),
          resumed: true,
          voice: resumed.voice,
        });
      }
      const started = await coach.startCall(request.user!.id);
      return reply.status(started.resumed ? 200 : 201).send({
        call: callView(started.session),
        resumed: started.resumed,
        voice: started.voice,
      });
    },
  );

  app.post(
    '/calls/:id/heartbeat',
    {
      schema: {
        tags: ['coach'],
        summary: 'Heartbeat over HTTP (the WebSocket is preferred)',
        params: sessionParams,
        response: { 200: api.heartbeatAnswer },
      },
      config: { access: 'user' },
    },
    // Billed at arrival: time spent queued behind other requests is not the caller's.
    async (request, reply) => ctx.metering.heartbeat(request.user!.id, request.params.id, arrivedAt(reply)),
  );

  app.post(
    '/calls/:id/end',
    {
      schema: {
        tags: ['coach'],
        summary: 'Hang up (idempotent); optionally with what was said in local voice mode',
        params: sessionParams,
        body: api.endCallBody,
        response: { 200: api.callAnswer },
      },
      config: { access: 'user' },
    },
    async (request, reply) => {
      const arrived = arrivedAt(reply);
      // Only a hang-up that carries what was said needs the call's row; a plain one goes straight
      // to metering, which refuses another user's call (and answers a storm of them in batches).
      const transcript = request.body?.transcript;
      if (transcript !== undefined && transcript.length > 0) {
        const call = await coach.calls.call(request.params.id);
        if (call === undefined || call.user_id !== request.user!.id) {
          throw new AppError('not_found', 'coach.unknown_call', 'No such call');
        }
        if (call.voice_mode === 'local') await coach.calls.saveTranscript(call.session_id, transcript);
      }
      const session = await ctx.metering.end(request.params.id, 'hung_up', {
        actor: { userId: request.user!.id },
        arrivedAt: arrived,
        sinceLastBeatMs: request.body?.sinceLastBeatMs,
      });
      return { call: callView(session) };
    },
  );

  app.get(
    '/calls',
    {
      schema: {
        tags: ['coach'],
        summary: 'Call history, and what earlier calls still owe beyond the balance',
        response: { 200: api.callsAnswer },
      },
      config: { access: 'user' },
    },
    async (request) => ({
      calls: (await ctx.metering.list(request.user!.id)).map(callView),
      unsettledSeconds: await ctx.metering.unsettled(request.user!.id),
    }),
  );

  app.get(
    '/calls/current',
    {
      schema: {
        tags: ['coach'],
        summary: 'The caller’s live call, or null (a reloaded page offers to resume it)',
        response: { 200: api.currentCallAnswer },
      },
      config: { access: 'user' },
    },
    async (request) => {
      const live = (await ctx.metering.list(request.user!.id, 5)).find((session) => session.status === 'active');
      return { call: live === undefined ? null : callView(live) };
    },
  );

  app.get(
    '/care-plans',
    {
      schema: { tags: ['coach'], summary: 'Care plans, newest first', response: { 200: api.carePlansAnswer } },
      config: { access: 'user' },
    },
    async (request) => ({
      carePlans: (await coach.calls.carePlans(request.user!.id)).map((plan) => ({
        sessionId: plan.session_id,
        source: plan.source,
        title: plan.title,
        body: plan.body,
        createdAt: plan.created_at,
      })),
      minSeconds: ctx.settings.carePlanMinSeconds,
    }),
  );

  // ElevenLabs' post-call webhook: signed over the raw body.
  await app.register(async (scope) => {
    scope.removeContentTypeParser('application/json');
    scope.addContentTypeParser(
      'application/json',
      { parseAs: 'buffer', bodyLimit: 5 * 1024 * 1024 },
      (_request, body, done) => done(null, body),
    );
    scope.post(
      '/webhooks/elevenlabs',
      {
        schema: {
          tags: ['coach'],
          summary: 'ElevenLabs post-call webhook (signed)',
          response: { 200: api.webhookAnswer },
        },
        config: { access: 'public' },
      },
      async (request) => {
        if (!Buffer.isBuffer(request.body)) throw new AppError('invalid_input', 'coach.invalid_webhook', 'Send JSON');
        const signature = request.headers['elevenlabs-signature'];
        return coach.handlePostCall(request.body, typeof signature === 'string' ? signature : undefined);
      },
    );
  });

  app.post(
    '/admin/calls/:id/end',
    {
      schema: {
        tags: ['coach'],
        summary: 'Operator: end a call',
        params: sessionParams,
        response: { 200: api.callAnswer },
      },
      config: { access: [PLATFORM_ADMIN] },
    },
    async (request) => {
      const session = await ctx.metering.end(request.params.id, 'operator');
      await ctx.audit({
        actor: { id: request.user!.id, email: request.user!.email },
        action: 'coach.call_ended_by_operator',
        target: { type: 'metered_session', id: request.params.id },
        ip: request.ip,
        userAgent: request.headers['user-agent'],
      });
      return { call: callView(session) };
    },
  );

  app.get(
    '/admin/calls/unsettled',
    {
      schema: {
        tags: ['coach'],
        summary: 'Operator: calls that talked beyond the balance and still owe',
        response: { 200: api.unsettledCallsAnswer },
      },
      config: { access: [PLATFORM_ADMIN] },
    },
    async () => ({
      calls: (await ctx.metering.listUnsettled()).map((session) => ({
        sessionId: session.id,
        userId: session.userId,
        meteredSeconds: session.meteredSeconds,
        unsettledSeconds: session.unsettledSeconds,
        startedAt: session.startedAt,
      })),
    }),
  );

  app.post(
    '/admin/calls/:id/clear-unsettled',
    {
      schema: {
        tags: ['coach'],
        summary: 'Operator: clear what a call owes, so its caller may start calls again',
        params: sessionParams,
        response: { 200: api.clearedAnswer },
      },
      config: { access: [PLATFORM_ADMIN] },
    },
    async (request) => {
      const session = await ctx.metering.get(request.params.id);
      if (session === undefined || session.app !== 'coach') {
        throw new AppError('not_found', 'coach.unknown_call', 'No such call');
      }
      const clearedSeconds = await ctx.metering.forgive(session.id);
      await ctx.audit({
        actor: { id: request.user!.id, email: request.user!.email },
        action: 'coach.unsettled_cleared',
        target: { type: 'metered_session', id: session.id },
        details: { clearedSeconds, userId: session.userId },
        ip: request.ip,
        userAgent: request.headers['user-agent'],
      });
      return { sessionId: session.id, clearedSeconds };
    },
  );

  app.get(
    '/admin/calls/flagged',
    {
      schema: {
        tags: ['coach'],
        summary: 'Operator: calls whose durations disagree',
        response: { 200: api.flaggedCallsAnswer },
      },
      config: { access: [PLATFORM_ADMIN] },
    },
    async () => ({
      calls: (await coach.calls.flagged()).map((call) => ({
        sessionId: call.session_id,
        userId: call.user_id,
        providerSeconds: call.provider_seconds,
        mismatchSeconds: call.duration_mismatch_seconds,
        createdAt: call.created_at,
      })),
    }),
  );
}
