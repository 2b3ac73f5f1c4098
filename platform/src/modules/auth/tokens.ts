import { randomUUID } from 'node:crypto';
import { SignJWT, errors, jwtVerify } from 'jose';
import { TOKEN_ALGORITHM, type KeyRing } from './signing-keys.ts';
import { accessClaimsOf, type AccessClaims } from './token-claims.ts';

/** The JWT `typ` of access tokens (RFC 9068): a token of another kind is never accepted. */
export const ACCESS_TOKEN_TYPE = 'at+jwt';

export interface TokenSettings {
  readonly issuer: string;
  readonly audience: string;
  readonly ttlSeconds: number;
}

export async function issueAccessToken(
  keys: KeyRing,
  settings: TokenSettings,
  subject: { userId: string; generation: number; sessionId?: string | undefined },
): Promise<{ token: string; claims: AccessClaims }> {
  const tokenId = randomUUID();
  const now = Math.floor(Date.now() / 1000);
  const token = await new SignJWT({
    gen: subject.generation,
    ...(subject.sessionId === undefined ? {} : { sid: subject.sessionId }),
  })
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
      ...(subject.sessionId === undefined ? {} : { sessionId: subject.sessionId }),
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
    return accessClaimsOf(payload);
  } catch {
    return null;
  }
}
