import { describe, expect, it } from 'vitest';
import { safeNext } from './api.ts';

const origin = 'http://127.0.0.1:3000';
const fallback = '/account';

describe('safeNext', () => {
  // Each value as the page reads it from the query string, that is after one percent-decoding.
  it.each([
    ['a tab after the first slash (/%09/)', '/\t/evil.example'],
    ['a newline after the first slash (/%0A/)', '/\n/evil.example'],
    ['a carriage return after the first slash (/%0D/)', '/\r/evil.example'],
    ['tabs and newlines between the slashes', '/\t\n\r/evil.example'],
    ['a protocol-relative address', '//evil.example'],
    ['three slashes', '///evil.example'],
    ['a slash and a backslash', '/\\evil.example'],
    ['a backslash and a slash', '\\/evil.example'],
    ['two backslashes', '\\\\evil.example'],
    ['a backslash, a tab and a slash', '/\\\t/evil.example'],
    ['a path that normalises to two slashes', '/.//evil.example'],
    ['a dot-dot path that normalises to two slashes', '/a/..//evil.example'],
    ['another scheme written without slashes', 'https:evil.example'],
    ['the same scheme followed by a backslash', 'http:/\\evil.example'],
    ['an absolute foreign address', 'https://evil.example/account'],
    ['our host as user info of a foreign one', 'http://127.0.0.1:3000@evil.example/'],
    ['our host as a prefix of a foreign one', 'http://127.0.0.1.evil.example:3000/'],
    ['another port of our host', 'http://127.0.0.1:4000/account'],
    ['javascript:', 'javascript:alert(document.cookie)'],
    ['javascript: in mixed case behind a space', ' JaVaScRiPt:alert(1)'],
    ['javascript: split by a tab', 'java\tscript:alert(1)'],
    ['data:', 'data:text/html,<script>alert(1)</script>'],
    ['an empty value', ''],
    ['no value', null],
  ])('refuses %s', (_name, value) => {
    expect(safeNext(value, fallback, origin)).toBe(fallback);
  });

  it.each([
    ['/coach/', '/coach/'],
    ['/coach/?tab=calls#plans', '/coach/?tab=calls#plans'],
    ['/admin/users?status=pending', '/admin/users?status=pending'],
    [`${origin}/account?x=1`, '/account?x=1'],
    ['/%09/still-here', '/%09/still-here'],
    ['/a/../b', '/b'],
    ['/path with spaces', '/path%20with%20spaces'],
  ])('keeps the same-origin address %j as %j', (value, expected) => {
    expect(safeNext(value, fallback, origin)).toBe(expected);
  });
});
