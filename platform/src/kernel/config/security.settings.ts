import { z } from 'zod';
import { defineSettings } from './settings.ts';

/**
 * Signing secrets. In development and tests they are generated once and kept in
 * `DATA_DIR/secrets.json` (mode 0600); in production they must be given, at least 32 bytes, and
 * not a placeholder.
 */
export const securitySettings = defineSettings('security', {
  schema: z.object({
    SESSION_SECRET: z.string().optional().describe('Signs session cookies and CSRF tokens (at least 32 bytes)'),
    SIGNING_SECRET: z
      .string()
      .optional()
      .describe('Signs short-lived links such as file downloads and test-mode payments (at least 32 bytes)'),
  }),
  secrets: ['SESSION_SECRET', 'SIGNING_SECRET'],
  resolve: (values) => ({
    sessionSecret: values.SESSION_SECRET ?? '',
    signingSecret: values.SIGNING_SECRET ?? '',
  }),
});
