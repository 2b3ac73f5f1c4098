import { describe, expect, it } from 'vitest';
import { LOCAL_MODE_LABEL, countTokens, extractiveAnswer } from './local.ts';

const documents = [
  {
    title: 'Lease.pdf',
    text: 'The tenant pays rent on the first day of each month. The deposit is two months of rent. Pets are allowed with written consent.',
  },
  {
    title: 'House rules.md',
    text: 'Quiet hours run from 22:00 to 07:00. Rent reminders are sent by email. Bicycles stay in the basement.',
  },
];

describe('the local mode’s extractive answer', () => {
  it('quotes the best-matching sentences verbatim, cites their documents, and lists the sources', () => {
    const answer = extractiveAnswer('When is the rent due each month?', documents);
    expect(answer.startsWith(LOCAL_MODE_LABEL)).toBe(true);
    const quotes = answer.split('\n').filter((line) => line.startsWith('> '));
    expect(quotes[0]).toBe('> "The tenant pays rent on the first day of each month." [1]');
    expect(quotes).toHaveLength(3);
    expect(quotes).toContain('> "Rent reminders are sent by email." [2]');
    expect(answer).toContain('Sources: [1] Lease.pdf; [2] House rules.md');
  });

  it('gives the same answer every time (ties kept in reading order)', () => {
    const first = extractiveAnswer('rent', documents);
    expect(extractiveAnswer('rent', documents)).toBe(first);
    const quotes = first.split('\n').filter((line) => line.startsWith('> '));
    expect(quotes).toEqual([
      '> "The tenant pays rent on the first day of each month." [1]',
      '> "The deposit is two months of rent." [1]',
      '> "Rent reminders are sent by email." [2]',
    ]);
  });

  it('says so, labelled, when nothing matches or no documents were given', () => {
    expect(extractiveAnswer('astronomy telescopes', documents)).toBe(
      `${LOCAL_MODE_LABEL} None of your documents mentions the words of your question, so there is nothing to quote.`,
    );
    expect(extractiveAnswer('rent', [])).toContain('none were given');
  });

  it.each([
    ['', 0],
    ['Hello, world!', 4],
    ['Quiet hours 22:00', 5],
  ])('counts %j as %i tokens', (text, count) => {
    expect(countTokens(text)).toBe(count);
  });
});
