import type { SettingsOf } from '#platform/kernel/config/load-config.ts';
import { z } from 'zod';
import { booleanSetting, defineSettings } from '#platform/kernel/config/settings.ts';
import type { StartupProblem } from '#platform/kernel/errors/errors.ts';

const RAZORPAY_TEST_PREFIX = 'rzp_test_';
const RAZORPAY_LIVE_PREFIX = 'rzp_live_';

/** Whether a Razorpay key id is one of its test mode (payments with test cards, no money). */
export function isRazorpayTestKey(keyId: string): boolean {
  return keyId.startsWith(RAZORPAY_TEST_PREFIX);
}

/** Payments (Razorpay, or the local test gateway when no keys are set). */
export const paymentsSettings = defineSettings('payments', {
  schema: z
    .object({
      RAZORPAY_KEY_ID: z
        .string()
        .min(1)
        .optional()
        .describe('Razorpay key id (rzp_live_... or rzp_test_...); unset: local test mode'),
      RAZORPAY_KEY_SECRET: z.string().min(1).optional().describe('Razorpay key secret (verifies checkout signatures)'),
      RAZORPAY_WEBHOOK_SECRET: z
        .string()
        .min(1)
        .optional()
        .describe('The secret of the Razorpay webhook pointed at /api/payments/webhooks/razorpay'),
      RAZORPAY_API_URL: z
        .url()
        .default('https://api.razorpay.com')
        .describe("Razorpay's API (tests use a local server)"),
      PAYMENTS_TEST_MODE: booleanSetting(false).describe(
        'Take test payments in production (the local test gateway without Razorpay keys, or rzp_test_ keys): they move no money yet credit balances, so production also needs ALLOW_TEST_PAYMENTS_IN_PRODUCTION=true',
      ),
      ALLOW_TEST_PAYMENTS_IN_PRODUCTION: booleanSetting(false).describe(
        'Confirms PAYMENTS_TEST_MODE on a staging site run with NODE_ENV=production; every page then shows a test-mode banner',
      ),
    })
    .superRefine((values, ctx) => {
      if ((values.RAZORPAY_KEY_ID === undefined) !== (values.RAZORPAY_KEY_SECRET === undefined)) {
        ctx.addIssue({
          code: 'custom',
          path: [values.RAZORPAY_KEY_ID === undefined ? 'RAZORPAY_KEY_ID' : 'RAZORPAY_KEY_SECRET'],
          message: 'set both RAZORPAY_KEY_ID and RAZORPAY_KEY_SECRET, or neither (local test mode)',
        });
      }
    }),
  resolve: (values) => ({
    /** Payments move no money: the local test gateway, or Razorpay's test mode (an rzp_test_ key). */
    testMode: values.RAZORPAY_KEY_ID === undefined || isRazorpayTestKey(values.RAZORPAY_KEY_ID),
    razorpay:
      values.RAZORPAY_KEY_ID === undefined || values.RAZORPAY_KEY_SECRET === undefined
        ? undefined
        : {
            keyId: values.RAZORPAY_KEY_ID,
            keySecret: values.RAZORPAY_KEY_SECRET,
            webhookSecret: values.RAZORPAY_WEBHOOK_SECRET,
            baseUrl: values.RAZORPAY_API_URL,
          },
    /** Test payments are wanted on this production (staging) site: both flags are set. */
    allowTestModeInProduction: values.PAYMENTS_TEST_MODE && values.ALLOW_TEST_PAYMENTS_IN_PRODUCTION,
  }),
  checkProduction: (values) => {
    const problems: StartupProblem[] = [];
    if (values.RAZORPAY_KEY_ID !== undefined && values.RAZORPAY_WEBHOOK_SECRET === undefined) {
      problems.push({
        setting: 'RAZORPAY_WEBHOOK_SECRET',
        message: 'is missing, so payments finished after the browser closed would never be credited',
        fix: 'create a webhook in the Razorpay dashboard for /api/payments/webhooks/razorpay and set its secret',
      });
    }
    if (values.PAYMENTS_TEST_MODE && !values.ALLOW_TEST_PAYMENTS_IN_PRODUCTION) {
      problems.push({
        setting: 'PAYMENTS_TEST_MODE',
        message: 'is true in production: anyone could buy credit with test payments that move no money',
        fix: 'remove it and set Razorpay live keys; on a staging site, confirm it with ALLOW_TEST_PAYMENTS_IN_PRODUCTION=true',
      });
    }
    if (
      values.RAZORPAY_KEY_ID !== undefined &&
      isRazorpayTestKey(values.RAZORPAY_KEY_ID) &&
      !(values.PAYMENTS_TEST_MODE && values.ALLOW_TEST_PAYMENTS_IN_PRODUCTION)
    ) {
      problems.push({
        setting: 'RAZORPAY_KEY_ID',
        message: 'is a Razorpay test key in production: test cards would buy real credit',
        fix: `use the live keys (${RAZORPAY_LIVE_PREFIX}...); on a staging site set PAYMENTS_TEST_MODE=true and ALLOW_TEST_PAYMENTS_IN_PRODUCTION=true`,
      });
    }
    return problems;
  },
});

declare module '#platform/kernel/config/load-config.ts' {
  interface ModuleConfig {
    readonly payments: SettingsOf<typeof paymentsSettings>;
  }
}
