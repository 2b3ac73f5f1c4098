import { z } from 'zod';

/**
 * A moment in time: an ISO 8601 string on the wire, a `Date` on either side of it. The server's
 * handlers return `Date`s (encoded to strings when the answer is serialized); a page that parses
 * an answer gets `Date`s back, and one that only reads its `Wire` type sees the string.
 */
export const timestamp = z.codec(z.iso.datetime({ offset: true }), z.date(), {
  decode: (text) => new Date(text),
  encode: (date) => date.toISOString(),
});

/** An answer that is just a sentence for the person (202 Accepted and the like). */
export const messageAnswer = z.object({ message: z.string() });

/** 204 No Content: declared so that the documentation shows the route answers nothing. */
export const noContent = z.null().describe('No content');

/**
 * The JSON a page receives for `Schema`: what the server's answer looks like on the wire
 * (timestamps as ISO strings), for pages that read an answer without parsing it.
 */
export type Wire<Schema extends z.ZodType> = z.input<Schema>;

/** What a parsed answer holds (timestamps as `Date`s). */
export type Parsed<Schema extends z.ZodType> = z.output<Schema>;
