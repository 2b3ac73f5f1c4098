import type { DoctorCheck, DoctorProbe } from '#platform/kernel/lifecycle/module.ts';
import { resolveAiChoice } from './ai.service.ts';

/**
 * Which LLM each app answers with. Local mode works (labelled, deterministic) but is no model:
 * a production site running it is told so. The provider is not called (that would cost tokens).
 */
export function aiDoctor({ config, apps, production }: DoctorProbe): DoctorCheck[] {
  const checks: DoctorCheck[] = [];
  const add = (check: DoctorCheck): void => {
    checks.push(check);
  };
  const local: string[] = [];
  const remote: string[] = [];
  for (const app of apps) {
    const choice = resolveAiChoice(config.ai, app.ai?.(config.apps[app.name]));
    if (choice.provider === 'local') local.push(app.name);
    else remote.push(`${app.name}: ${choice.provider} (${choice.model})`);
  }
  const uses = remote.length === 0 ? '' : `${remote.join(', ')}`;
  if (local.length === 0) {
    add({ name: 'ai', status: 'pass', message: uses === '' ? 'no app' : uses });
    return checks;
  }
  const localLine = `${local.join(', ')} in local mode (no LLM: extractive answers and templates, labelled)`;
  add({
    name: 'ai',
    status: production ? 'warn' : 'pass',
    message: [uses, localLine].filter((part) => part !== '').join('; '),
    ...(production ? { fix: 'set AI_PROVIDER and AI_API_KEY (or <APP>_AI_PROVIDER and <APP>_AI_API_KEY)' } : {}),
  });
  return checks;
}
