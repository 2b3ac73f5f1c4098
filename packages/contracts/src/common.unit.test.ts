import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { timestamp } from './common.ts';

describe('timestamp', () => {
  const answer = z.object({ at: timestamp, endedAt: timestamp.nullable() });

  it('encodes the server’s Date as an ISO string and drops fields outside the schema', () => {
    const sent = z.encode(answer, {
      at: new Date(Date.UTC(2026, 11, 3, 8, 0, 0)),
      endedAt: null,
      secret: 'x',
    } as never);
    expect(sent).toEqual({ at: '2026-12-03T08:00:00.000Z', endedAt: null });
  });

  it.each([
    ['2026-12-03T08:00:00.000Z', Date.UTC(2026, 11, 3, 8)],
    ['2026-12-03T08:00:00Z', Date.UTC(2026, 11, 3, 8)],
    ['2026-12-03T13:30:00+05:30', Date.UTC(2026, 11, 3, 8)],
  ])('decodes %s for the page as a Date', (text, epochMs) => {
    expect(answer.parse({ at: text, endedAt: null }).at.getTime()).toBe(epochMs);
  });

  it.each([['yesterday'], ['2026-12-03'], [''], [1764748800000]])('refuses %j on the wire', (value) => {
    expect(answer.safeParse({ at: value, endedAt: null }).success).toBe(false);
  });
});
