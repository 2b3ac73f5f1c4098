import { describe, expect, it } from 'vitest';
import { createLevelSource } from './voice.tsx';

describe('a level source', () => {
  it('keeps whole numbers from 0 to 100 and tells listeners only of real changes, until they leave', () => {
    const level = createLevelSource();
    let heard = 0;
    const leave = level.subscribe(() => (heard += 1));
    expect(level.get()).toBe(0);
    level.set(41.6);
    level.set(42.2);
    expect([level.get(), heard]).toEqual([42, 1]);
    level.set(250);
    expect(level.get()).toBe(100);
    level.set(-3);
    expect([level.get(), heard]).toEqual([0, 3]);
    leave();
    level.set(50);
    expect(heard).toBe(3);
  });
});
