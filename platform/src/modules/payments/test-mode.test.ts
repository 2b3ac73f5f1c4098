import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defineApp } from '#platform/kernel/lifecycle/define-app.ts';
import { loadConfig } from '#platform/kernel/config/load-config.ts';
import { settingsModulesFor } from '../../host.ts';
import { StartupError } from '#platform/kernel/errors/errors.ts';
import { runDoctor } from '#platform/modules/health/doctor.ts';
import { startFakeRazorpay, type FakeRazorpay } from '#platform/testing/razorpay-server.ts';
import { startTestBallast, type TestBallast } from '#platform/testing/ballast.ts';
import { productionEnv } from '#platform/testing/production-env.ts';

/**
 * Test payments move no money yet credit balances: production refuses them unless a staging site
 * says so twice, doctor fails them, and every page that sells says so while they run.
 */
const shop = defineApp({
  name: 'shop',
  title: 'Shop',
  summary: 'Sells packs.',
  status: 'available',
  defaultAccess: 'public',
  payments: () => ({
    unit: 'seconds',
    packs: [{ id: 'talk-30', title: '30 minutes', units: 1800, amountMinor: 49_900, currency: 'INR' }],
  }),
});

const liveKeys = {
  RAZORPAY_KEY_ID: 'rzp_live_Abc123Def456',
  RAZORPAY_KEY_SECRET: 'a-live-key-secret',
  RAZORPAY_WEBHOOK_SECRET: 'a-webhook-secret',
};
const testKeys = { ...liveKeys, RAZORPAY_KEY_ID: 'rzp_test_Abc123Def456' };
const staging = { PAYMENTS_TEST_MODE: 'true', ALLOW_TEST_PAYMENTS_IN_PRODUCTION: 'true' };

function problemsOf(env: Record<string, string | undefined>): { setting: string; message: string; fix?: string }[] {
  try {
    loadConfig({ env, ...settingsModulesFor([]) });
  } catch (error) {
    if (error instanceof StartupError) return [...error.problems];
    throw error;
  }
  return [];
}

/** Doctor's payments line for a production deployment (the database is left unprobed: no URL). */
async function doctorPayments(env: Record<string, string | undefined>) {
  const report = await runDoctor({ apps: [shop], env: productionEnv({ DATABASE_URL: undefined, ...env }) });
  return report.checks.filter((check) => check.name === 'payments');
}

describe('test payments in production', () => {
  it('refuses PAYMENTS_TEST_MODE without ALLOW_TEST_PAYMENTS_IN_PRODUCTION, naming both', () => {
    expect(problemsOf(productionEnv({ PAYMENTS_TEST_MODE: 'true' }))).toEqual([
      expect.objectContaining({
        setting: 'PAYMENTS_TEST_MODE',
        message: expect.stringContaining('move no money'),
        fix: expect.stringContaining('ALLOW_TEST_PAYMENTS_IN_PRODUCTION=true'),
      }),
    ]);
  });

  it('refuses a Razorpay test key unless the site says it is staging', () => {
    expect(problemsOf(productionEnv(testKeys))).toEqual([
      expect.objectContaining({ setting: 'RAZORPAY_KEY_ID', message: expect.stringContaining('test key') }),
    ]);
    expect(problemsOf(productionEnv({ ...testKeys, ALLOW_TEST_PAYMENTS_IN_PRODUCTION: 'true' }))).toEqual([
      expect.objectContaining({ setting: 'RAZORPAY_KEY_ID' }),
    ]);
    expect(problemsOf(productionEnv({ ...testKeys, ...staging }))).toEqual([]);
    expect(problemsOf(productionEnv(liveKeys))).toEqual([]);
  });

  it('starts a staging site that sets both flags, in test mode', () => {
    const config = loadConfig({ env: productionEnv(staging), ...settingsModulesFor([]) });
    expect(config.payments).toMatchObject({ testMode: true, allowTestModeInProduction: true, razorpay: undefined });
  });

  it('doctor fails test payments in production, warns on a staging site, and passes live keys', async () => {
    expect(await doctorPayments({})).toEqual([
      expect.objectContaining({ status: 'fail', message: expect.stringContaining('local test gateway') }),
    ]);
    expect(await doctorPayments({ PAYMENTS_TEST_MODE: 'true' })).toEqual([
      expect.objectContaining({ status: 'fail', fix: expect.stringContaining('ALLOW_TEST_PAYMENTS_IN_PRODUCTION') }),
    ]);
    expect(await doctorPayments(testKeys)).toEqual([
      expect.objectContaining({ status: 'fail', message: expect.stringContaining('Razorpay test mode') }),
    ]);
    expect(await doctorPayments(staging)).toEqual([
      expect.objectContaining({ status: 'warn', message: expect.stringContaining('staging') }),
    ]);
    expect(await doctorPayments(liveKeys)).toEqual([expect.objectContaining({ status: 'pass' })]);
  });
});

describe('the test-mode banner', () => {
  let razorpay: FakeRazorpay;
  let local: TestBallast;
  let live: TestBallast;

  beforeAll(async () => {
    razorpay = await startFakeRazorpay({ live: true });
    local = await startTestBallast({ apps: [shop] });
    live = await startTestBallast({
      apps: [shop],
      env: {
        RAZORPAY_KEY_ID: razorpay.keyId,
        RAZORPAY_KEY_SECRET: razorpay.keySecret,
        RAZORPAY_WEBHOOK_SECRET: razorpay.webhookSecret,
        RAZORPAY_API_URL: razorpay.url,
      },
    });
  });

  afterAll(async () => {
    await local.close();
    await live.close();
    await razorpay.close();
  });

  const homePage = async (server: TestBallast) => (await fetch(`${server.url}/`)).text();
  const packs = async (server: TestBallast) =>
    (await (await fetch(`${server.url}/api/payments/shop/packs`)).json()) as Record<string, unknown>;

  it('tops the home page and tells checkouts while payments move no money', async () => {
    expect(await homePage(local)).toMatch(/<p class="test-mode-banner" role="note">\s*Test mode: payments/);
    expect(await packs(local)).toMatchObject({ mode: 'test', testMode: true });
  });

  it('is absent with Razorpay live keys', async () => {
    expect(await homePage(live)).not.toContain('test-mode-banner');
    expect(await packs(live)).toMatchObject({ mode: 'razorpay', testMode: false, keyId: razorpay.keyId });
  });
});
