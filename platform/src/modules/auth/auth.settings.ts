import type { SettingsOf } from '#platform/kernel/config/load-config.ts';
import { z } from 'zod';
import { defineSettings, integerSetting } from '#platform/kernel/config/settings.ts';

/** Accounts and tokens. */
export const authSettings = defineSettings('auth', {
  schema: z.object({
    AUTH_SIGNING_KEYS: z
      .string()
      .optional()
      .describe(
        'Private Ed25519 JWKs signing access tokens, as a JSON array, newest first: the first signs, all verify (required in production; generated and kept in DATA_DIR in development)',
      ),
    AUTH_ISSUER: z
      .url()
      .optional()
      .describe('The `iss` of access tokens (default: PUBLIC_URL, or http://localhost in development)'),
    AUTH_AUDIENCE: z.string().min(1).default('ballast').describe('The `aud` of access tokens'),
    AUTH_TOKEN_TTL_SECONDS: integerSetting(86_400, 60, 30 * 86_400).describe(
      'How long an access token (and its cookie) lives, in seconds (24 hours)',
    ),
    AUTH_ACTOR_CACHE_SECONDS: integerSetting(60, 0, 3600).describe(
      "How long a node keeps a user's token generation, status and roles in memory instead of reading them per request, in seconds (0 turns it off); changes still apply at once through the realtime bus, and while a node's bus connection is down it reads the database every time",
    ),
    AUTH_REGISTRATIONS_PER_HOUR: integerSetting(3, 1, 100_000).describe(
      'Registrations accepted per hour per client IP (refused ones, such as a weak password, do not count)',
    ),
    AUTH_SIGN_IN_ATTEMPTS: integerSetting(10, 1, 100_000).describe(
      'Sign-in attempts allowed per 15 minutes per client IP and email (failures also slow down after the third)',
    ),
    AUTH_RESET_REQUESTS_PER_HOUR: integerSetting(3, 1, 100_000).describe(
      'Password reset emails allowed per hour per email',
    ),
    GOOGLE_CLIENT_ID: z
      .string()
      .optional()
      .describe('OAuth client id for "Sign in with Google"; unset, the Google button is hidden'),
    GOOGLE_JWKS_URL: z
      .url()
      .default('https://www.googleapis.com/oauth2/v3/certs')
      .describe("Where Google's ID-token signing keys are published (tests point it at a local server)"),
  }),
  resolve: (values) => ({
    signingKeys: values.AUTH_SIGNING_KEYS,
    issuer: values.AUTH_ISSUER,
    audience: values.AUTH_AUDIENCE,
    tokenTtlSeconds: values.AUTH_TOKEN_TTL_SECONDS,
    actorCacheSeconds: values.AUTH_ACTOR_CACHE_SECONDS,
    limits: {
      registrationsPerHour: values.AUTH_REGISTRATIONS_PER_HOUR,
      signInAttempts: values.AUTH_SIGN_IN_ATTEMPTS,
      resetRequestsPerHour: values.AUTH_RESET_REQUESTS_PER_HOUR,
    },
    googleClientId: values.GOOGLE_CLIENT_ID,
    googleJwksUrl: values.GOOGLE_JWKS_URL,
  }),
  checkProduction: (values) =>
    values.AUTH_SIGNING_KEYS === undefined
      ? [
          {
            setting: 'AUTH_SIGNING_KEYS',
            message: 'is missing, so access tokens could not be verified by other nodes or after a restart',
            fix: 'generate one with `npx ballast auth new-key` and set AUTH_SIGNING_KEYS to the printed JSON array',
          },
        ]
      : [],
});

declare module '#platform/kernel/config/load-config.ts' {
  interface ModuleConfig {
    readonly auth: SettingsOf<typeof authSettings>;
  }
}
