import { newSigningJwk } from '#platform/modules/auth/signing-keys.ts';

/** A fresh AUTH_SIGNING_KEYS value (one private Ed25519 JWK), for tests that run in production mode. */
export async function testSigningKeys(): Promise<string> {
  return JSON.stringify([await newSigningJwk()]);
}
