import { afterEach, beforeEach, vi } from 'vitest';

// A stray console.error means something failed quietly: it fails the test that caused it.
let strayErrors: unknown[][] = [];

beforeEach(() => {
  strayErrors = [];
  vi.spyOn(console, 'error').mockImplementation((...args: unknown[]) => {
    strayErrors.push(args);
  });
});

afterEach(() => {
  vi.restoreAllMocks();
  if (strayErrors.length > 0) {
    const printed = strayErrors.map((args) => args.map(String).join(' ')).join('\n');
    throw new Error(`console.error was called during this test:\n${printed}`);
  }
});
