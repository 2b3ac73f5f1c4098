import { makeTempDir } from './temp.ts';

/** Signing secrets strong enough for production's checks, for tests only. */
export const testSecrets = {
  session: 'k4Jd9-Qz2mXv7LpR0sTn3yWb8HcF6gAe1uPo5iKj',
  signing: 'Zy8xW7vU6tS5rQ4pO3nM2lK1jI0hG9fE8dC7bA6z',
} as const;

/**
 * Settings a production start-up accepts (nothing is reached: the database host does not exist),
 * with `overrides` on top; an override of `undefined` removes a setting.
 */
export function productionEnv(overrides: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  return {
    NODE_ENV: 'production',
    DATA_DIR: makeTempDir(),
    DATABASE_URL: 'postgres://ballast:pw@db.internal:5432/ballast',
    CORS_ORIGINS: 'https://app.example.com',
    PUBLIC_URL: 'https://app.example.com',
    SESSION_SECRET: testSecrets.session,
    SIGNING_SECRET: testSecrets.signing,
    AUTH_SIGNING_KEYS: '[{"kty":"OKP","crv":"Ed25519"}]',
    ...overrides,
  };
}
