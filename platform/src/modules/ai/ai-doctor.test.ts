import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineSettings } from '#platform/kernel/config/settings.ts';
import { defineApp, type AppDefinition } from '#platform/kernel/lifecycle/define-app.ts';
import { runDoctor } from '#platform/modules/health/doctor.ts';
import { productionEnv } from '#platform/testing/production-env.ts';
import type { AiChoice } from './ai.service.ts';
import { aiProviderSetting } from './ai.settings.ts';

describe('doctor', () => {
  const coachLike = defineApp<{ ai: AiChoice }>({
    name: 'helper',
    title: 'Helper',
    summary: 'Answers.',
    status: 'available',
    settings: defineSettings('helper', {
      schema: z.object({ HELPER_AI_PROVIDER: aiProviderSetting().optional().describe('provider') }),
      resolve: (values) => ({ ai: { provider: values.HELPER_AI_PROVIDER } }),
    }),
    ai: (settings) => settings.ai,
  }) as AppDefinition;
  async function doctorAi(env: Record<string, string | undefined>) {
    const report = await runDoctor({ apps: [coachLike], env: productionEnv({ DATABASE_URL: undefined, ...env }) });
    return report.checks.filter((check) => check.name === 'ai');
  }

  it('warns a production site whose apps answer in local mode, and names the provider otherwise', async () => {
    expect(await doctorAi({})).toEqual([
      expect.objectContaining({ status: 'warn', message: expect.stringContaining('helper in local mode') }),
    ]);
    expect(await doctorAi({ HELPER_AI_PROVIDER: 'openai', AI_PROVIDER: 'openai', AI_API_KEY: 'sk-x' })).toEqual([
      expect.objectContaining({ status: 'pass', message: 'helper: openai (gpt-4.1-mini)' }),
    ]);
  });
});
