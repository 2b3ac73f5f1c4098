import { z } from 'zod';
import { noContent, timestamp } from './common.ts';

/** A stored file as its owner (or a grantee) sees it. */
export const storedFile = z.object({
  id: z.string(),
  app: z.string(),
  use: z.string(),
  ownerId: z.string(),
  /** The sanitized name it is downloaded as. */
  name: z.string(),
  /** Decided from its bytes, never from what the client said. */
  contentType: z.string(),
  /** In bytes. */
  size: z.number(),
  /** Hex SHA-256 of the content; null until a direct upload has been hashed. */
  sha256: z.string().nullable(),
  status: z.enum(['uploading', 'stored', 'attached', 'deleting']),
  /** The app's record it belongs to, once attached. */
  record: z.string().nullable(),
  createdAt: timestamp,
});

/** The answer to an upload or to the completion of a direct upload. */
export const fileAnswer = z.object({ file: storedFile });

export const directUploadBody = z.object({
  name: z.string().min(1).max(1000),
  size: z.number().int().positive(),
  type: z.string().min(1).max(200),
});

/** A presigned direct upload to the bucket (S3 mode): PUT the bytes to `url` with `headers`. */
export const directUploadAnswer = z.object({
  file: storedFile,
  url: z.string(),
  method: z.literal('PUT'),
  headers: z.record(z.string(), z.string()),
  expiresAt: timestamp,
});

/** A short-lived download link: relative to the site for local storage, absolute for S3. */
export const downloadLink = z.object({ url: z.string(), expiresAt: timestamp });

export const discardAnswer = noContent;

/**
 * A signed download: the file's bytes, whole (200) or the requested range (206), streamed (so
 * never serialized: the schema documents the body, it does not type a value).
 */
export const downloadAnswer = {
  content: { 'application/octet-stream': { schema: z.unknown().describe('The file’s bytes') } },
};

/** 416: the requested range lies outside the file (`Content-Range: bytes *\/size`). */
export const unsatisfiableRange = noContent;
