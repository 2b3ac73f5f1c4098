import fs from 'node:fs';
import path from 'node:path';
import { parseEnv } from 'node:util';
import { describe, expect, it } from 'vitest';
import { StartupError } from '#platform/kernel/errors/errors.ts';
import { productionEnv, testSecrets } from '#platform/testing/production-env.ts';
import { makeTempDir } from '#platform/testing/temp.ts';
import { defaultProjectRoot, loadConfig } from './load-config.ts';

const { session: strong, signing: strong2 } = testSecrets;

function problemsOf(env: Record<string, string | undefined>): { setting: string; message: string }[] {
  try {
    loadConfig({ env });
  } catch (error) {
    if (error instanceof StartupError) return [...error.problems];
    throw error;
  }
  return [];
}

describe('loadConfig in production', () => {
  it('starts with safe settings', () => {
    const config = loadConfig({ env: productionEnv() });
    expect(config.isProduction).toBe(true);
    expect(config.http.corsOrigins).toEqual(['https://app.example.com']);
    expect(config.http.host).toBe('0.0.0.0');
    // Connections waiting to be accepted: a storm of 10,000 hang-ups overflows Node's own 511.
    expect(config.http.listenBacklog).toBe(4096);
  });

  it.each([
    ['missing', undefined, /missing/],
    ['shorter than 32 bytes', 'a1B2c3D4e5F6g7H8i9J0', /20 bytes long; at least 32/],
    ['the placeholder "changeme"', 'changeme', /placeholder/],
    ['the placeholder "secret"', 'secret', /placeholder/],
    ['a long placeholder', 'please-change-me-before-deploying-this-app', /placeholder/],
    ['a repeated character', 'a'.repeat(64), /distinct characters/],
  ])('refuses a signing secret that is %s', (_label, value, message) => {
    const problems = problemsOf(productionEnv({ SESSION_SECRET: value }));
    expect(problems).toEqual([
      expect.objectContaining({ setting: 'SESSION_SECRET', message: expect.stringMatching(message) }),
    ]);
  });

  it('refuses every secret value published in .env.example', () => {
    const example = parseEnv(fs.readFileSync(path.join(defaultProjectRoot, '.env.example'), 'utf8'));
    for (const name of ['SESSION_SECRET', 'SIGNING_SECRET']) {
      const published = example[name];
      expect(published, `${name} in .env.example`).toBeTruthy();
      const problems = problemsOf(productionEnv({ [name]: published }));
      expect(problems).toEqual([
        expect.objectContaining({ setting: name, message: 'is the published value from .env.example' }),
      ]);
    }
  });

  it('refuses CORS_ORIGINS that is "*" or missing', () => {
    expect(problemsOf(productionEnv({ CORS_ORIGINS: '*' }))).toEqual([
      expect.objectContaining({ setting: 'CORS_ORIGINS', message: expect.stringContaining('wildcard') }),
    ]);
    expect(problemsOf(productionEnv({ CORS_ORIGINS: undefined }))).toEqual([
      expect.objectContaining({ setting: 'CORS_ORIGINS', message: expect.stringContaining('missing') }),
    ]);
  });

  it('refuses the embedded database unless explicitly allowed', () => {
    expect(problemsOf(productionEnv({ DATABASE_URL: undefined }))).toEqual([
      expect.objectContaining({ setting: 'DATABASE_URL' }),
    ]);
    expect(problemsOf(productionEnv({ DATABASE_URL: undefined, ALLOW_EMBEDDED_DB: 'true' }))).toEqual([]);
  });

  it('refuses debug logging and pretty logs', () => {
    expect(problemsOf(productionEnv({ LOG_LEVEL: 'debug' }))).toEqual([
      expect.objectContaining({ setting: 'LOG_LEVEL' }),
    ]);
    expect(problemsOf(productionEnv({ LOG_LEVEL: 'trace', LOG_PRETTY: 'true' })).map((p) => p.setting)).toEqual([
      'LOG_LEVEL',
      'LOG_PRETTY',
    ]);
  });

  it('lists every problem at once', () => {
    const problems = problemsOf(
      productionEnv({
        SESSION_SECRET: undefined,
        SIGNING_SECRET: 'short',
        CORS_ORIGINS: '*',
        DATABASE_URL: undefined,
        LOG_LEVEL: 'debug',
        PORT: 'eighty',
      }),
    );
    expect(problems.map((p) => p.setting).sort()).toEqual(
      ['CORS_ORIGINS', 'DATABASE_URL', 'LOG_LEVEL', 'PORT', 'SESSION_SECRET', 'SIGNING_SECRET'].sort(),
    );
  });
});

describe('loadConfig in development', () => {
  it('generates secrets once, keeps them in a 0600 file, and reuses them on restart', () => {
    const dataDir = makeTempDir();
    const first = loadConfig({ env: { DATA_DIR: dataDir } });
    const second = loadConfig({ env: { DATA_DIR: dataDir } });
    expect(Buffer.byteLength(first.security.sessionSecret)).toBeGreaterThanOrEqual(32);
    expect(first.security.sessionSecret).not.toBe(first.security.signingSecret);
    expect(second.security).toEqual(first.security);
    const mode = fs.statSync(path.join(dataDir, 'secrets.json')).mode & 0o777;
    expect(mode).toBe(0o600);
  });

  it('prefers secrets given in the environment', () => {
    const config = loadConfig({ env: { DATA_DIR: makeTempDir(), SESSION_SECRET: strong, SIGNING_SECRET: strong2 } });
    expect(config.security.sessionSecret).toBe(strong);
  });

  it('returns a deeply frozen config', () => {
    const config = loadConfig({ env: { DATA_DIR: makeTempDir() } });
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.http)).toBe(true);
    expect(Object.isFrozen(config.http.corsOrigins)).toBe(true);
  });

  it('names each invalid setting', () => {
    const problems = problemsOf({
      DATA_DIR: makeTempDir(),
      PORT: '-1',
      DATABASE_URL: 'mysql://x',
      REDIS_URL: 'http://x',
    });
    expect(problems.map((p) => p.setting).sort()).toEqual(['DATABASE_URL', 'PORT', 'REDIS_URL']);
  });
});
