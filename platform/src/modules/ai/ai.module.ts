import type { TableMap } from '#platform/kernel/db/database.ts';
import type { StartupProblem } from '#platform/kernel/errors/errors.ts';
import { aiDoctor } from './ai.doctor.ts';
import { defineModule } from '#platform/kernel/lifecycle/module.ts';
import { aiSettings } from './ai.settings.ts';
import { createAiService, resolveAiChoice, type AiChoice, type AiClient, type AiService } from './ai.service.ts';

/**
 * The LLM an app talks to (`ctx.ai`): its configured provider and model, streaming answers
 * (`stream`) or whole ones (`generate`), each with its token usage, cancellable, through the
 * resilience wrapper. `local` is true when no provider is configured: answers are then the
 * app's own `localAnswer` or an extractive one quoting the given documents, and labelled.
 */
export type AiPort = AiClient;

declare module '#platform/kernel/lifecycle/module.ts' {
  interface PlatformServices {
    /** LLM providers behind one interface. */
    ai: AiService;
  }
  interface AppPorts {
    readonly ai: AiPort;
  }
}

declare module '#platform/kernel/lifecycle/define-app.ts' {
  // eslint-disable-next-line @typescript-eslint/no-unused-vars -- DB is part of the merged signature
  interface AppOptions<Settings, DB extends TableMap> {
    /**
     * The app's own LLM choice from its settings (`<APP>_AI_PROVIDER`, `_MODEL`, `_API_KEY`,
     * `_BASE_URL`); parts left unset fall back to the `AI_*` defaults (see `resolveAiChoice`).
     */
    readonly ai?: (settings: Settings) => AiChoice;
  }
}

function missingKey(provider: string, setting: string, who: string): StartupProblem {
  return {
    setting,
    message: `is missing: ${who} uses ${provider}, which needs an API key`,
    fix: `set ${setting}, or choose the local mode (provider "local")`,
  };
}

/**
 * AI: Anthropic, Gemini and OpenAI through their official SDKs behind one streaming interface,
 * chosen per app, with a labelled local mode when no key is configured.
 */
export const aiModule = defineModule({
  name: 'ai',
  dependsOn: [],
  doctor: aiDoctor,
  settings: aiSettings,
  checkStartup: (config, declared) => {
    const problems: StartupProblem[] = [];
    const defaults = config.ai;
    if (defaults.provider !== 'local' && defaults.apiKey === undefined) {
      problems.push(missingKey(defaults.provider, 'AI_API_KEY', 'AI_PROVIDER'));
    }
    for (const app of declared.apps) {
      const own = app.ai?.(config.apps[app.name]);
      if (own === undefined) continue;
      const choice = resolveAiChoice(defaults, own);
      if (choice.provider !== 'local' && choice.apiKey === undefined && own.provider !== undefined) {
        problems.push(missingKey(choice.provider, `${app.name.toUpperCase()}_AI_API_KEY`, app.name));
      }
    }
    return problems;
  },
  create: (ctx) => {
    const ai = createAiService(
      { timeoutMs: ctx.settings.timeoutMs, retries: ctx.settings.retries, maxRetryWaitMs: ctx.settings.maxRetryWaitMs },
      { metrics: ctx.metrics, log: ctx.log },
    );
    for (const app of ctx.apps) {
      const choice = resolveAiChoice(ctx.settings, app.ai?.(ctx.config.apps[app.name]));
      ctx.log.info({ app: app.name, provider: choice.provider, model: choice.model }, 'AI provider chosen');
    }
    return {
      service: ai,
      forApp: (app) => ai.client(resolveAiChoice(ctx.settings, app.ai?.(ctx.config.apps[app.name]))),
    };
  },
});
