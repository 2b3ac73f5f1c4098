import { describe, expect, it } from 'vitest';
import { platformModules } from '#platform/modules/index.ts';

/**
 * Every notification type has a title of its own, shown on people's notification settings
 * (`defineNotification` requires one; here no two of the platform's types share one).
 */

describe('notification titles', () => {
  it('gives every platform notification type a title of its own', () => {
    const titles = platformModules
      .flatMap((module) => module.notifications ?? [])
      .map((definition) => definition.title);
    expect(titles.every((title) => title.trim().length > 0)).toBe(true);
    expect(new Set(titles).size).toBe(titles.length);
  });
});
