import { describe, expect, it } from 'vitest';
import type { Config } from '#platform/kernel/config/load-config.ts';
import { defineApp, type AppDefinition } from '#platform/kernel/lifecycle/define-app.ts';
import { aiModule } from './ai.module.ts';
import { resolveAiChoice, type AiChoice } from './ai.service.ts';

describe('an app’s AI choice over the AI_* default', () => {
  const gemini: AiChoice = { provider: 'gemini', model: 'gemini-2.5-pro', apiKey: 'g-key', baseUrl: 'http://g' };
  it.each<[string, AiChoice, AiChoice | undefined, ReturnType<typeof resolveAiChoice>]>([
    [
      'nothing set: local mode',
      {},
      undefined,
      { provider: 'local', model: 'local-extractive', apiKey: undefined, baseUrl: undefined },
    ],
    [
      'no app choice: the default',
      gemini,
      undefined,
      { provider: 'gemini', model: 'gemini-2.5-pro', apiKey: 'g-key', baseUrl: 'http://g' },
    ],
    [
      'the app sets only a model',
      gemini,
      { model: 'gemini-2.5-flash' },
      { provider: 'gemini', model: 'gemini-2.5-flash', apiKey: 'g-key', baseUrl: 'http://g' },
    ],
    [
      'the app names the same provider: the default key and address are inherited',
      gemini,
      { provider: 'gemini' },
      { provider: 'gemini', model: 'gemini-2.5-pro', apiKey: 'g-key', baseUrl: 'http://g' },
    ],
    [
      'the app names another provider: nothing of the default is sent to it',
      gemini,
      { provider: 'anthropic', apiKey: 'a-key' },
      { provider: 'anthropic', model: 'claude-sonnet-4-5', apiKey: 'a-key', baseUrl: undefined },
    ],
    [
      'the app chooses local mode while the default is a provider',
      gemini,
      { provider: 'local' },
      { provider: 'local', model: 'local-extractive', apiKey: undefined, baseUrl: undefined },
    ],
  ])('%s', (_name, defaults, app, expected) => {
    expect(resolveAiChoice(defaults, app)).toEqual(expected);
  });
});

describe('start-up rules', () => {
  const app = defineApp<{ ai: AiChoice }>({
    name: 'demo',
    title: 'Demo',
    summary: 'Demo',
    status: 'available',
    ai: (settings) => settings.ai,
  }) as AppDefinition;
  const check = (ai: AiChoice, appAi: AiChoice) =>
    aiModule.checkStartup!(
      // Only the parts the rule reads.
      { ai, apps: { demo: { ai: appAi } } } as unknown as Config,
      { modules: [], apps: [app] },
    ).map((problem) => problem.setting);

  it('refuses a provider without its key, naming the setting', () => {
    expect(check({ provider: 'openai' }, {})).toEqual(['AI_API_KEY']);
    expect(check({ provider: 'local' }, { provider: 'anthropic' })).toEqual(['DEMO_AI_API_KEY']);
  });

  it('accepts local mode and providers with keys', () => {
    expect(check({ provider: 'local' }, {})).toEqual([]);
    expect(check({ provider: 'gemini', apiKey: 'k' }, { provider: 'gemini' })).toEqual([]);
    expect(check({ provider: 'local' }, { provider: 'openai', apiKey: 'k' })).toEqual([]);
  });
});
