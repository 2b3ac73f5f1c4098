/**
 * The coach's HTTP API under /api/coach as zod schemas: the routes validate and answer with
 * them (and /docs shows them), the page parses the answers with them.
 */
import { timestamp, z } from '@ballast/contracts';
import { voiceSetup } from './calls.ts';

export const callParams = z.object({ id: z.uuid() });

/** Modes this server runs in. */
export const statusAnswer = z.object({
  voiceMode: z.enum(['elevenlabs', 'local']),
  carePlanSource: z.enum(['anthropic', 'gemini', 'openai', 'template']),
});

/** A call as its caller sees it. */
export const callView = z.object({
  id: z.string(),
  status: z.enum(['active', 'ended']),
  startedAt: timestamp,
  maxSeconds: z.number(),
  meteredSeconds: z.number(),
  remainingSeconds: z.number(),
  endedAt: timestamp.nullable(),
  endReason: z.string().nullable(),
  /** `endReason` in a sentence for the caller. */
  endReasonText: z.string().nullable(),
});

/**
 * Starting a call: no body (or `{}`) starts one, or resumes the caller's live one. `resume` names
 * the live call a reloaded page picks up again: it is resumed (kept alive by a heartbeat) and never
 * replaced by a new call; a call that has ended meanwhile is refused with 409 `coach.call_ended`,
 * naming why it ended.
 */
export const startCallBody = z.object({ resume: z.uuid().optional() }).nullish();

/** A started call (201), or the caller's live one resumed (200). */
export const startCallAnswer = z.object({ call: callView, resumed: z.boolean(), voice: voiceSetup });

/** The caller's live call, if any (a reloaded page resumes it). */
export const currentCallAnswer = z.object({ call: callView.nullable() });

/** What a heartbeat answers (over HTTP, or as the `call.heartbeat` request over /realtime). */
export const heartbeatAnswer = z.object({
  status: z.enum(['active', 'ended']),
  sessionId: z.string(),
  meteredSeconds: z.number(),
  remainingSeconds: z.number(),
  /** True from the warning threshold on: the balance runs out soon. */
  warning: z.boolean(),
  endReason: z.string().nullable().optional(),
});

export const transcriptLine = z.object({ role: z.enum(['user', 'agent']), text: z.string().max(4000) });

export const endCallBody = z
  .object({
    transcript: z.array(transcriptLine).max(500).optional(),
    // The caller's own clock: milliseconds from the answer to their last heartbeat to this
    // hang-up. Billing stops there even if the request waited in a queue.
    sinceLastBeatMs: z.number().int().min(0).max(86_400_000).optional(),
  })
  .optional();

/** A call after it ended (the caller's hang-up or an operator's). */
export const callAnswer = z.object({ call: callView });

/** Call history, and what earlier calls still owe beyond the balance. */
export const callsAnswer = z.object({ calls: z.array(callView).readonly(), unsettledSeconds: z.number() });

export const carePlan = z.object({
  sessionId: z.string(),
  source: z.string(),
  title: z.string(),
  body: z.string(),
  createdAt: timestamp,
});
/** Care plans, newest first; calls shorter than `minSeconds` get none. */
export const carePlansAnswer = z.object({ carePlans: z.array(carePlan).readonly(), minSeconds: z.number() });

/** How a post-call webhook was applied; the charge when it settled a call. */
export const webhookAnswer = z.object({
  outcome: z.string(),
  chargedSeconds: z.number().optional(),
  unsettledSeconds: z.number().optional(),
});

export const unsettledCallsAnswer = z.object({
  calls: z
    .array(
      z.object({
        sessionId: z.string(),
        userId: z.string(),
        meteredSeconds: z.number(),
        unsettledSeconds: z.number(),
        startedAt: timestamp,
      }),
    )
    .readonly(),
});

export const clearedAnswer = z.object({ sessionId: z.string(), clearedSeconds: z.number() });

export const flaggedCallsAnswer = z.object({
  calls: z
    .array(
      z.object({
        sessionId: z.string(),
        userId: z.string(),
        providerSeconds: z.number().nullable(),
        mismatchSeconds: z.number().nullable(),
        createdAt: timestamp,
      }),
    )
    .readonly(),
});
