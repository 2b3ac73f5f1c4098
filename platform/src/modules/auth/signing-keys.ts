import fs from 'node:fs';
import path from 'node:path';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK } from 'jose';
import { StartupError } from '#platform/kernel/errors/errors.ts';

/** The token signing algorithm: EdDSA over Ed25519 (RFC 8037), asymmetric, small, fast to verify. */
export const TOKEN_ALGORITHM = 'EdDSA';

export interface SigningKey {
  readonly kid: string;
  readonly privateKey: CryptoKey;
  readonly publicKey: CryptoKey;
  readonly publicJwk: JWK;
}

/** The keys tokens are signed and verified with: the first signs; all verify (rotation). */
export interface KeyRing {
  readonly current: SigningKey;
  byKid(kid: string): SigningKey | undefined;
  /** The public keys, for `/.well-known/jwks.json`. */
  jwks(): { keys: JWK[] };
}

/** A new private signing key as a JWK with its `kid` (the RFC 7638 thumbprint). */
export async function newSigningJwk(): Promise<JWK> {
  const { privateKey } = await generateKeyPair(TOKEN_ALGORITHM, { crv: 'Ed25519', extractable: true });
  const jwk = await exportJWK(privateKey);
  const kid = await calculateJwkThumbprint(jwk);
  return { ...jwk, kid, alg: TOKEN_ALGORITHM, use: 'sig' };
}

async function toSigningKey(jwk: JWK): Promise<SigningKey> {
  if (jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519' || typeof jwk.d !== 'string' || typeof jwk.x !== 'string') {
    throw new Error('each signing key must be a private Ed25519 JWK (kty OKP, crv Ed25519, with d and x)');
  }
  const kid = jwk.kid ?? (await calculateJwkThumbprint(jwk));
  const privateKey = (await importJWK({ ...jwk, alg: TOKEN_ALGORITHM }, TOKEN_ALGORITHM)) as CryptoKey;
  const publicJwk: JWK = { kty: 'OKP', crv: 'Ed25519', x: jwk.x, kid, alg: TOKEN_ALGORITHM, use: 'sig' };
  const publicKey = (await importJWK(publicJwk, TOKEN_ALGORITHM)) as CryptoKey;
  return { kid, privateKey, publicKey, publicJwk };
}

function devKeyFile(dataDir: string): string {
  return path.join(dataDir, 'auth-keys.json');
}

function writePrivateFile(file: string, content: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const temporary = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(temporary, content, { mode: 0o600 });
  fs.renameSync(temporary, file);
}

/**
 * Development keys: generated once and kept in `DATA_DIR/auth-keys.json` (mode 0600), so a
 * restart (or a second process on the same data folder) accepts every token issued before.
 */
async function loadDevKeys(dataDir: string): Promise<JWK[]> {
  const file = devKeyFile(dataDir);
  if (fs.existsSync(file)) return (JSON.parse(fs.readFileSync(file, 'utf8')) as { keys: JWK[] }).keys;
  const keys = [await newSigningJwk()];
  try {
    // Exclusive create: if another process made the file first, use theirs.
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, JSON.stringify({ keys }, null, 2), { mode: 0o600, flag: 'wx' });
    return keys;
  } catch {
    return (JSON.parse(fs.readFileSync(file, 'utf8')) as { keys: JWK[] }).keys;
  }
}

/** Adds a new development signing key in front (it signs from now on; the old ones keep verifying). */
export async function rotateDevKey(dataDir: string): Promise<string> {
  const keys = await loadDevKeys(dataDir);
  const next = await newSigningJwk();
  writePrivateFile(devKeyFile(dataDir), JSON.stringify({ keys: [next, ...keys] }, null, 2));
  return next.kid!;
}

/** Loads the key ring from AUTH_SIGNING_KEYS, or from the development key file. */
export async function loadKeyRing(options: { configured: string | undefined; dataDir: string }): Promise<KeyRing> {
  let jwks: JWK[];
  if (options.configured !== undefined) {
    try {
      const parsed = JSON.parse(options.configured) as unknown;
      jwks = Array.isArray(parsed) ? (parsed as JWK[]) : (parsed as { keys: JWK[] }).keys;
      if (!Array.isArray(jwks) || jwks.length === 0) throw new Error('no keys');
    } catch (error) {
      throw new StartupError([
        {
          setting: 'AUTH_SIGNING_KEYS',
          message: `is not a JSON array of private JWKs (${(error as Error).message})`,
          fix: 'generate one with `npx ballast auth new-key`',
        },
      ]);
    }
  } else {
    jwks = await loadDevKeys(options.dataDir);
  }
  let keys: SigningKey[];
  try {
    keys = await Promise.all(jwks.map(toSigningKey));
  } catch (error) {
    throw new StartupError([
      { setting: 'AUTH_SIGNING_KEYS', message: (error as Error).message, fix: 'use `npx ballast auth new-key`' },
    ]);
  }
  const byKid = new Map(keys.map((key) => [key.kid, key]));
  return {
    current: keys[0]!,
    byKid: (kid) => byKid.get(kid),
    jwks: () => ({ keys: keys.map((key) => key.publicJwk) }),
  };
}
