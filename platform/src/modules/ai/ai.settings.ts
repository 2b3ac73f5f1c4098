import type { SettingsOf } from '#platform/kernel/config/load-config.ts';
import { z } from 'zod';
import { defineSettings, integerSetting } from '#platform/kernel/config/settings.ts';

/** The LLM providers Ballast speaks to through their official SDKs, and `local` (no provider). */
export const aiProviderNames = ['anthropic', 'gemini', 'openai', 'local'] as const;
export type AiProviderName = (typeof aiProviderNames)[number];

/** The model each provider uses when none is set. */
export const defaultModels: Readonly<Record<AiProviderName, string>> = {
  anthropic: 'claude-sonnet-4-5',
  gemini: 'gemini-2.5-flash',
  openai: 'gpt-4.1-mini',
  local: 'local-extractive',
};

/**
 * A provider setting (`AI_PROVIDER`, or an app's `<APP>_AI_PROVIDER`): one of the provider names.
 * Exported so apps declare their own choice with the same values.
 */
export function aiProviderSetting() {
  return z.enum(aiProviderNames);
}

/** The platform-wide default provider; apps may choose their own (see `AppOptions.ai`). */
export const aiSettings = defineSettings('ai', {
  schema: z.object({
    AI_PROVIDER: aiProviderSetting()
      .default('local')
      .describe(
        'LLM provider for apps that choose none: anthropic, gemini, openai, or local (no key: a labelled, deterministic local mode)',
      ),
    AI_MODEL: z.string().min(1).optional().describe("Model of AI_PROVIDER (default: the provider's default model)"),
    AI_API_KEY: z
      .string()
      .min(1)
      .optional()
      .describe('API key of AI_PROVIDER, sent only in request headers (never in URLs or logs)'),
    AI_BASE_URL: z
      .url()
      .optional()
      .describe("AI_PROVIDER's API base URL (default: the provider's; tests use a local server)"),
    AI_TIMEOUT_SECONDS: integerSetting(30, 1, 600).describe(
      'Longest wait for the first token of an answer, and then between tokens, before the attempt is aborted',
    ),
    AI_RETRIES: integerSetting(2, 0, 5).describe(
      'Extra attempts after a 429, a 5xx, a timeout or a dropped connection before the first token (Retry-After honoured)',
    ),
    AI_MAX_RETRY_WAIT_SECONDS: integerSetting(20, 1, 300).describe(
      'Longest wait before a retry; a Retry-After asking for longer fails the call at once',
    ),
  }),
  resolve: (values) => ({
    provider: values.AI_PROVIDER,
    model: values.AI_MODEL,
    apiKey: values.AI_API_KEY,
    baseUrl: values.AI_BASE_URL,
    timeoutMs: values.AI_TIMEOUT_SECONDS * 1000,
    retries: values.AI_RETRIES,
    maxRetryWaitMs: values.AI_MAX_RETRY_WAIT_SECONDS * 1000,
  }),
});

declare module '#platform/kernel/config/load-config.ts' {
  interface ModuleConfig {
    readonly ai: SettingsOf<typeof aiSettings>;
  }
}
