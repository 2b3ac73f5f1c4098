import { describe, expect, it } from 'vitest';
import { carePlanBlocks } from './care-plan-text.ts';

describe('carePlanBlocks', () => {
  it('turns numbered lines into one ordered list between paragraphs', () => {
    expect(carePlanBlocks('Hello there.\nYou talked for 2 min.\n\n1. Walk.\n2) Breathe.\n\nTake care.')).toEqual([
      { kind: 'paragraph', text: 'Hello there. You talked for 2 min.' },
      { kind: 'list', ordered: true, items: ['Walk.', 'Breathe.'] },
      { kind: 'paragraph', text: 'Take care.' },
    ]);
  });

  it('keeps bulleted and numbered runs apart and drops markdown marks', () => {
    expect(carePlanBlocks('## Steps\n- **Rest**\n* Eat\n1. One')).toEqual([
      { kind: 'paragraph', text: 'Steps' },
      { kind: 'list', ordered: false, items: ['Rest', 'Eat'] },
      { kind: 'list', ordered: true, items: ['One'] },
    ]);
  });

  it('answers nothing for an empty plan', () => {
    expect(carePlanBlocks('  \n')).toEqual([]);
  });
});
