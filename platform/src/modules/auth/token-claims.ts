import { z } from 'zod';

/** What an access token says: whose it is and which generation of their tokens it belongs to. */
export interface AccessClaims {
  readonly userId: string;
  /** Bumped on sign-out, password change or reset, and disable: earlier tokens stop working. */
  readonly generation: number;
  readonly tokenId: string;
  readonly expiresAt: Date;
  /** The sign-in (`session` row) the token belongs to; absent from tokens issued before sessions were recorded. */
  readonly sessionId?: string | undefined;
}

/**
 * The shapes of the claims Ballast issues. A token signed by one of our keys with other shapes
 * (a `sub` that is not a user id, a fractional or huge `gen`) is refused like a forged one,
 * before any of it reaches a query.
 */
const accessClaims = z.object({
  sub: z.uuid(),
  gen: z.number().int().min(0).max(2_147_483_647),
  jti: z.uuid(),
  sid: z.uuid().optional(),
  exp: z.number().int().positive(),
});

/** The claims of a verified token's payload, or null when any has another shape than Ballast issues. */
export function accessClaimsOf(payload: Record<string, unknown>): AccessClaims | null {
  const parsed = accessClaims.safeParse(payload);
  if (!parsed.success) return null;
  return {
    userId: parsed.data.sub,
    generation: parsed.data.gen,
    tokenId: parsed.data.jti,
    expiresAt: new Date(parsed.data.exp * 1000),
    ...(parsed.data.sid === undefined ? {} : { sessionId: parsed.data.sid }),
  };
}
