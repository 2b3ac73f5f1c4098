import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { findUnstorableText, holdsUnstorableText } from './text-guard.ts';

describe('findUnstorableText', () => {
  it('finds NUL characters and unpaired surrogates in strings, array items and keys, by field', () => {
    const body = {
      name: 'Ada\u0000',
      notes: ['fine', 'high \ud800 alone', { 'x\u0000': 1 }],
      nested: { deeper: { text: '\udc00' } },
      fine: 'emoji 🎉 and ﷺ are whole characters',
    };
    expect(findUnstorableText(body, 'body')).toEqual([
      { field: 'body.name', message: 'contains a NUL character (\\u0000)' },
      { field: 'body.notes.1', message: 'contains an unpaired UTF-16 surrogate' },
      { field: 'body.notes.2', message: 'has a key that contains a NUL character (\\u0000)' },
      { field: 'body.nested.deeper.text', message: 'contains an unpaired UTF-16 surrogate' },
    ]);
  });

  it('passes ordinary text, numbers, null and missing values', () => {
    expect(findUnstorableText({ a: 'plain', b: 3, c: null, d: [true, 'ok'] }, 'body')).toEqual([]);
    expect(findUnstorableText(undefined, 'body')).toEqual([]);
  });

  it('walks a body nested far deeper than the call stack allows', () => {
    let nested: unknown = 'bottom\u0000';
    for (let depth = 0; depth < 200_000; depth++) nested = [nested];
    expect(findUnstorableText(nested, 'body')).toHaveLength(1);
  });

  it('lists at most 20 fields', () => {
    expect(findUnstorableText(Array(100).fill('\u0000'), 'body')).toHaveLength(20);
  });

  it('does not look into bytes or streams (raw webhook bodies, uploads)', () => {
    expect(findUnstorableText(Buffer.from('a\u0000b'), 'body')).toEqual([]);
    expect(findUnstorableText(Readable.from(['a\u0000b']), 'body')).toEqual([]);
  });
});

describe('holdsUnstorableText', () => {
  it('agrees with findUnstorableText on every kind of value', () => {
    let deep: unknown = 'bottom\u0000';
    for (let depth = 0; depth < 200_000; depth++) deep = [deep];
    const cases: unknown[] = [
      { name: 'Ada\u0000' },
      { notes: ['fine', { 'x\u0000': 1 }] },
      { nested: { deeper: { text: '\udc00' } } },
      ['ok', 'high \ud800 alone'],
      'plain',
      'nul\u0000',
      { a: 'plain', b: 3, c: null, d: [true, 'ok'], e: 'emoji 🎉' },
      Object.assign(Object.create({ inherited: 'x\u0000' }) as object, { own: 'fine' }),
      Buffer.from('bytes\u0000'),
      undefined,
      null,
      7,
      deep,
    ];
    for (const value of cases) {
      expect(holdsUnstorableText(value)).toBe(findUnstorableText(value, 'body').length > 0);
    }
  });
});
