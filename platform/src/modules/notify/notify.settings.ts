import type { SettingsOf } from '#platform/kernel/config/load-config.ts';
import { z } from 'zod';
import { defineSettings } from '#platform/kernel/config/settings.ts';

/** Email (SMTP) and SMS (Twilio). Unset, messages go to the development inbox at /dev/inbox. */
export const notifySettings = defineSettings('notify', {
  schema: z.object({
    SMTP_URL: z
      .string()
      .refine((value) => /^smtps?:\/\/[^/]+/.test(value), 'must be smtp://user:password@host:587 or smtps://...')
      .optional()
      .describe('SMTP server for email; unset, email goes to the development inbox (refused in production if used)'),
    EMAIL_FROM: z
      .string()
      .min(3)
      .default('Ballast <no-reply@localhost>')
      .describe('Sender of every email, e.g. "Ballast <no-reply@example.com>"'),
    TWILIO_ACCOUNT_SID: z
      .string()
      .regex(/^AC[0-9a-fA-F]{32}$/, 'must be a Twilio account SID (AC followed by 32 hex characters)')
      .optional()
      .describe('Twilio account for SMS; unset, SMS goes to the development inbox (refused in production if used)'),
    TWILIO_AUTH_TOKEN: z.string().min(16).optional().describe('Twilio auth token (with TWILIO_ACCOUNT_SID)'),
    TWILIO_FROM: z
      .string()
      .regex(
        /^(\+[1-9]\d{6,14}|MG[0-9a-fA-F]{32})$/,
        'must be an E.164 number (+14155550100) or a Messaging Service SID',
      )
      .optional()
      .describe('Sending number (E.164) or Messaging Service SID (MG...)'),
    TWILIO_API_BASE_URL: z
      .url()
      .default('https://api.twilio.com')
      .describe("Twilio's REST API address (tests point it at a local server)"),
  }),
  resolve: (values) => ({
    smtpUrl: values.SMTP_URL,
    emailFrom: values.EMAIL_FROM,
    twilio:
      values.TWILIO_ACCOUNT_SID !== undefined &&
      values.TWILIO_AUTH_TOKEN !== undefined &&
      values.TWILIO_FROM !== undefined
        ? {
            accountSid: values.TWILIO_ACCOUNT_SID,
            authToken: values.TWILIO_AUTH_TOKEN,
            from: values.TWILIO_FROM,
            baseUrl: values.TWILIO_API_BASE_URL,
          }
        : undefined,
  }),
  checkProduction: (values) => {
    const twilio = [values.TWILIO_ACCOUNT_SID, values.TWILIO_AUTH_TOKEN, values.TWILIO_FROM];
    if (twilio.some((value) => value !== undefined) && twilio.some((value) => value === undefined)) {
      return [
        {
          setting: 'TWILIO_ACCOUNT_SID',
          message: 'is only partly configured',
          fix: 'set all of TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_FROM, or none',
        },
      ];
    }
    return [];
  },
});

declare module '#platform/kernel/config/load-config.ts' {
  interface ModuleConfig {
    readonly notify: SettingsOf<typeof notifySettings>;
  }
}
