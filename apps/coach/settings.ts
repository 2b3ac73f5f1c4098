import { aiProviderSetting, defineSettings, integerSetting, z } from '@ballast/platform';

const pack = z.object({
  id: z.string().regex(/^[a-z0-9-]{1,40}$/),
  title: z.string().min(1).max(100),
  minutes: z.number().int().min(1).max(10_000),
  /** Price in paise (or the currency's smallest unit). */
  amountMinor: z.number().int().min(100),
  currency: z.string().regex(/^[A-Z]{3}$/),
});

const defaultPacks = [
  { id: 'talk-30', title: '30 minutes', minutes: 30, amountMinor: 49_900, currency: 'INR' },
  { id: 'talk-60', title: '1 hour', minutes: 60, amountMinor: 89_900, currency: 'INR' },
  { id: 'talk-180', title: '3 hours', minutes: 180, amountMinor: 2_39_900, currency: 'INR' },
];

/** The voice coach's settings. Without an ElevenLabs key or an AI provider it runs in labelled local modes. */
export const coachSettings = defineSettings('coach', {
  schema: z.object({
    COACH_PACKS: z
      .string()
      .transform((value, ctx) => {
        try {
          return JSON.parse(value) as unknown;
        } catch {
          ctx.addIssue({ code: 'custom', message: 'must be a JSON array' });
          return z.NEVER;
        }
      })
      .pipe(z.array(pack).min(1))
      .optional()
      .describe(
        'Talk-time packs as a JSON array of {id, title, minutes, amountMinor, currency} (default: 30 min, 1 h, 3 h in INR)',
      ),
    COACH_ELEVENLABS_API_KEY: z
      .string()
      .min(1)
      .optional()
      .describe('ElevenLabs API key; unset: local voice mode in the browser'),
    COACH_ELEVENLABS_AGENT_ID: z
      .string()
      .min(1)
      .optional()
      .describe('The ElevenLabs conversational agent the coach speaks as'),
    COACH_ELEVENLABS_WEBHOOK_SECRET: z
      .string()
      .min(1)
      .optional()
      .describe('Secret of the ElevenLabs post-call webhook pointed at /api/coach/webhooks/elevenlabs'),
    COACH_ELEVENLABS_SETTLE_AFTER_SECONDS: integerSetting(60, 1, 3600).describe(
      "After an ElevenLabs call ends, ask ElevenLabs' conversation API for what was really talked after this long (then again, backing off, until it is final)",
    ),
    COACH_ELEVENLABS_API_URL: z
      .url()
      .default('https://api.elevenlabs.io')
      .describe("ElevenLabs' API (tests use a local server)"),
    COACH_CARE_PLAN_MIN_SECONDS: integerSetting(60, 0, 3600).describe(
      'Calls shorter than this many seconds get no care plan (0: every call gets one)',
    ),
    COACH_AI_PROVIDER: aiProviderSetting()
      .optional()
      .describe(
        'LLM provider that writes care plans (anthropic, gemini, openai, local); unset: AI_PROVIDER. Local mode writes a labelled template plan',
      ),
    COACH_AI_MODEL: z
      .string()
      .min(1)
      .optional()
      .describe("Model that writes care plans (default: AI_MODEL or the provider's)"),
    COACH_AI_API_KEY: z
      .string()
      .min(1)
      .optional()
      .describe('API key of COACH_AI_PROVIDER (default: AI_API_KEY when AI_PROVIDER is the same provider)'),
    COACH_AI_BASE_URL: z.url().optional().describe("COACH_AI_PROVIDER's API base URL (tests use a local server)"),
  }),
  resolve: (values) => {
    const packs = values.COACH_PACKS ?? defaultPacks;
    return {
      packs,
      elevenLabs:
        values.COACH_ELEVENLABS_API_KEY === undefined || values.COACH_ELEVENLABS_AGENT_ID === undefined
          ? undefined
          : {
              apiKey: values.COACH_ELEVENLABS_API_KEY,
              agentId: values.COACH_ELEVENLABS_AGENT_ID,
              baseUrl: values.COACH_ELEVENLABS_API_URL,
              settleAfterSeconds: values.COACH_ELEVENLABS_SETTLE_AFTER_SECONDS,
            },
      elevenLabsWebhookSecret: values.COACH_ELEVENLABS_WEBHOOK_SECRET,
      carePlanMinSeconds: values.COACH_CARE_PLAN_MIN_SECONDS,
      ai: {
        provider: values.COACH_AI_PROVIDER,
        model: values.COACH_AI_MODEL,
        apiKey: values.COACH_AI_API_KEY,
        baseUrl: values.COACH_AI_BASE_URL,
      },
    };
  },
});

export type CoachSettings = ReturnType<typeof coachSettings.resolve>;
