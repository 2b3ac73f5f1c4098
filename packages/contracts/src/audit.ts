import { z } from 'zod';
import { timestamp } from './common.ts';

export const auditQuery = z.object({
  actor: z.string().max(200).optional(),
  action: z.string().max(100).optional(),
  from: z.coerce.date().optional(),
  to: z.coerce.date().optional(),
  limit: z.coerce.number().int().min(1).max(10_000).optional(),
});

/** One recorded action: who, what, on what, from where, and the state before and after. */
export const auditEvent = z.object({
  id: z.string(),
  at: timestamp,
  actorId: z.string().nullable(),
  actorEmail: z.string().nullable(),
  /** The actor's display name now (null when they have none, or for the system). */
  actorName: z.string().nullable(),
  action: z.string(),
  targetType: z.string().nullable(),
  targetId: z.string().nullable(),
  /** The target named for people: a user's email, when the target (or the details' `userId`) is a user. */
  targetName: z.string().nullable(),
  ip: z.string().nullable(),
  userAgent: z.string().nullable(),
  before: z.unknown(),
  after: z.unknown(),
  details: z.unknown(),
});

export const auditAnswer = z.object({ events: z.array(auditEvent).readonly() });

/** The same events as CSV, one row each, header first. */
export const auditCsvAnswer = { content: { 'text/csv': { schema: z.string() } } };

/** What the trail's filters offer: every recorded action, and everyone who acted. */
export const auditFacetsAnswer = z.object({
  actions: z.array(z.string()).readonly(),
  actors: z.array(z.object({ email: z.string(), name: z.string().nullable() })).readonly(),
});
