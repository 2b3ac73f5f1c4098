import { randomUUID } from 'node:crypto';
import { SignJWT, errors, jwtVerify, type JWTPayload } from 'jose';
import { z } from 'zod';
import { TOKEN_ALGORITHM, type KeyRing } from './signing-keys.ts';

/** The JWT `typ` of access tokens (RFC 9068): a token of another kind is never accepted. */
export const ACCESS_TOKEN_TYPE = 'at+jwt';

export interface TokenSettings {
  readonly issuer: string;
  readonly audience: string;
  readonly ttlSeconds: number;
}

/** What an access token says: whose it is and which generation of their tokens it belongs to. */
export interface AccessClaims {
  readonly userId: string;
  /** Bumped on sign-out, password change or reset, and disable: earlier tokens stop working. */
  readonly generation: number;
  readonly tokenId: string;
  readonly expiresAt: Date;
}

export async function issueAccessToken(
  keys: KeyRing,
  settings: TokenSettings,
  subject: { userId: string; generation: number },
): Promise<{ token: string; claims: AccessClaims }> {
  const tokenId = randomUUID();
  const now = Math.floor(Date.now() / 1000);
  const token = await new SignJWT({ gen: subject.generation })
    .setProtectedHeader({ alg: TOKEN_ALGORITHM, kid: keys.current.kid, typ: ACCESS_TOKEN_TYPE })
    .setSubject(subject.userId)
    .setIssuer(settings.issuer)
    .setAudience(settings.audience)
    .setIssuedAt(now)
    .setNotBefore(now)
    .setExpirationTime(now + settings.ttlSeconds)
    .setJti(tokenId)
    .sign(keys.current.privateKey);
  return {
    token,
    claims: {
      userId: subject.userId,
      generation: subject.generation,
      tokenId,
      expiresAt: new Date((now + settings.ttlSeconds) * 1000),
    },
  };
}

/**
 * Verifies an access token (RFC 8725): the algorithm is pinned to EdDSA (so `alg: none` and
 * HMAC-with-the-public-key confusion fail), the key is chosen by `kid` among ours, and `typ`,
 * `iss`, `aud`, `exp` and `nbf` are all checked. Resolves with the claims, or null.
 */
export async function verifyAccessToken(
  keys: KeyRing,
  settings: TokenSettings,
  token: string,
): Promise<AccessClaims | null> {
  try {
    const { payload } = await jwtVerify(
      token,
      (header) => {
        const key = header.kid === undefined ? undefined : keys.byKid(header.kid);
        if (key === undefined) throw new errors.JWKSNoMatchingKey();
        return key.publicKey;
      },
      {
        algorithms: [TOKEN_ALGORITHM],
        issuer: settings.issuer,
        audience: settings.audience,
        typ: ACCESS_TOKEN_TYPE,
        requiredClaims: ['sub', 'exp', 'nbf', 'iat', 'jti'],
        clockTolerance: 5,
      },
    );
    return claimsOf(payload);
  } catch {
    return null;
  }
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
  exp: z.number().int().positive(),
});

function claimsOf(payload: JWTPayload): AccessClaims | null {
  const parsed = accessClaims.safeParse(payload);
  if (!parsed.success) return null;
  return {
    userId: parsed.data.sub,
    generation: parsed.data.gen,
    tokenId: parsed.data.jti,
    expiresAt: new Date(parsed.data.exp * 1000),
  };
}
