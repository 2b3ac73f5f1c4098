import { z } from 'zod';
import { booleanSetting, defineSettings } from '#platform/kernel/config/settings.ts';

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
        'Allow the local test gateway in production (no Razorpay keys): for staging only, it moves no money',
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
    razorpay:
      values.RAZORPAY_KEY_ID === undefined || values.RAZORPAY_KEY_SECRET === undefined
        ? undefined
        : {
            keyId: values.RAZORPAY_KEY_ID,
            keySecret: values.RAZORPAY_KEY_SECRET,
            webhookSecret: values.RAZORPAY_WEBHOOK_SECRET,
            baseUrl: values.RAZORPAY_API_URL,
          },
    allowTestModeInProduction: values.PAYMENTS_TEST_MODE,
  }),
  checkProduction: (values) =>
    values.RAZORPAY_KEY_ID !== undefined && values.RAZORPAY_WEBHOOK_SECRET === undefined
      ? [
          {
            setting: 'RAZORPAY_WEBHOOK_SECRET',
            message: 'is missing, so payments finished after the browser closed would never be credited',
            fix: 'create a webhook in the Razorpay dashboard for /api/payments/webhooks/razorpay and set its secret',
          },
        ]
      : [],
});
