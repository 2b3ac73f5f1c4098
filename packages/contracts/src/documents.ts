import { z } from 'zod';

/** Where a document stands. */
export const documentState = z.enum(['queued', 'parsing', 'ready', 'no_text', 'failed', 'manual']);

/** Why a document could not be read. */
export const failureReason = z.enum(['encrypted', 'unreadable', 'too_large', 'timeout', 'memory', 'unsupported']);

/** A document (the text of a stored file) as its owner sees it. */
export const parsedDocument = z.object({
  id: z.string(),
  fileId: z.string(),
  ownerId: z.string(),
  state: documentState,
  /** 0 to 100. */
  progress: z.number(),
  reason: failureReason.nullable(),
  /** What to tell the user, for every state. */
  message: z.string(),
  /** The extracted (or typed) text; null until there is some. */
  text: z.string().nullable(),
  pages: z.number().nullable(),
  /** The text was cut at the limit. */
  truncated: z.boolean(),
});

export const documentAnswer = z.object({ document: parsedDocument });

export const requestBody = z.object({ fileId: z.string().max(60) });
export const textBody = z.object({ text: z.string().min(1).max(2_000_000) });
