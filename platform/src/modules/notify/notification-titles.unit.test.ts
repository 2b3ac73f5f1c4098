import { describe, expect, it } from 'vitest';
import { platformModules } from '#platform/modules/index.ts';

/**
 * Every notification type has a title, shown on people's notification settings. Apps are held to
 * it by `defineApp`; the platform's own types here. The one exception predates titles and lives
 * in a module this change did not touch: give it a title and empty the list.
 */
const untitledBeforeTitles = ['platform.payment-receipt'];

describe('notification titles', () => {
  it('gives every platform notification type a title of its own', () => {
    const untitled = platformModules
      .flatMap((module) => module.notifications ?? [])
      .filter((definition) => definition.titled === false)
      .map((definition) => definition.type);
    expect(untitled).toEqual(untitledBeforeTitles);
  });
});
