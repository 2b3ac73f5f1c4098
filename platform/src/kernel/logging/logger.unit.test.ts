import fs from 'node:fs';
import path from 'node:path';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { captureLogs } from '#platform/testing/logs.ts';
import { makeTempDir } from '#platform/testing/temp.ts';
import { AccessLine, LineBatch, REDACTED, createLogger, redactUrl, scrub, shouldPrettyPrint } from './logger.ts';

describe('scrub', () => {
  it('replaces sensitive keys at any depth, whatever their case or separators', () => {
    const input = {
      user: { email: 'a@b.co', Password: 'p1' },
      headers: { 'set-cookie': ['s=1'], 'X-Api-Key': 'k', accept: '*/*' },
      attempts: [{ otp: '123456' }, { note: 'ok' }],
      client_secret: 'c',
    };
    expect(scrub(input)).toEqual({
      user: { email: 'a@b.co', Password: REDACTED },
      headers: { 'set-cookie': REDACTED, 'X-Api-Key': REDACTED, accept: '*/*' },
      attempts: [{ otp: REDACTED }, { note: 'ok' }],
      client_secret: REDACTED,
    });
  });

  it('never changes the caller’s objects, and returns them untouched when clean', () => {
    const input = { user: { password: 'p1' }, other: { fine: true } };
    const output = scrub(input) as typeof input;
    expect(input.user.password).toBe('p1');
    expect(output.other).toBe(input.other);
    const clean = { a: 1, b: [1, 2] };
    expect(scrub(clean)).toBe(clean);
  });
});

describe('the logger', () => {
  it('writes JSON lines without secrets, from fields and from child bindings', () => {
    const logs = captureLogs();
    const log = createLogger({ level: 'info', pretty: false, destination: logs.stream });
    log
      .child({ apiKey: 'binding-key-1' })
      .info({ token: 'field-token-2', nested: { authorization: 'Bearer 3' } }, 'hello');
    const text = logs.text();
    expect(text).not.toMatch(/binding-key-1|field-token-2|Bearer 3/);
    expect(logs.lines()[0]).toMatchObject({ level: 'info', msg: 'hello', token: REDACTED, apiKey: REDACTED });
  });

  it('writes the access line flat, with credentials in its URL masked, and still scrubs other lines', () => {
    const logs = captureLogs();
    const log = createLogger({ level: 'info', pretty: false, destination: logs.stream });
    const request = log.child({ reqId: 'access-1' });
    log.info(
      new AccessLine('access-1', 'GET', '/cb?code=secret-code-1&state=x&api_key=secret-key-2', 200, 1.23456),
      'done',
    );
    request.info({ password: 'secret-password-3' }, 'other');
    expect(logs.text()).not.toMatch(/secret-code-1|secret-key-2|secret-password-3/);
    const [access, other] = logs.lines();
    expect(access).toMatchObject({
      reqId: 'access-1',
      method: 'GET',
      url: `/cb?code=${REDACTED}&state=x&api_key=${REDACTED}`,
      status: 200,
      ms: 1.235,
      msg: 'done',
    });
    expect(access).not.toHaveProperty('req');
    expect(other).toMatchObject({ reqId: 'access-1', password: REDACTED });
    expect(typeof access?.['time']).toBe('string');
    expect(new Date(access?.['time'] as string).toISOString()).toBe(access?.['time']);
  });

  it('masks credentials in URL query strings', () => {
    expect(redactUrl('/cb?code=abc&state=x&access_token=t&sig=s')).toBe(
      `/cb?code=${REDACTED}&state=x&access_token=${REDACTED}&sig=${REDACTED}`,
    );
  });
});

describe('pretty logs', () => {
  const terminal = { isTTY: true };
  const pipe = { isTTY: false };
  const settings = (env: string, pretty?: boolean) => ({ env, log: { pretty } });

  it('are on by default in development on a terminal, and off for a pipe, in tests and in production', () => {
    expect(shouldPrettyPrint(settings('development'), terminal)).toBe(true);
    expect(shouldPrettyPrint(settings('development'), pipe)).toBe(false);
    expect(shouldPrettyPrint(settings('test'), terminal)).toBe(false);
    expect(shouldPrettyPrint(settings('production'), terminal)).toBe(false);
  });

  it('follow LOG_PRETTY when it is set', () => {
    expect(shouldPrettyPrint(settings('development', false), terminal)).toBe(false);
    expect(shouldPrettyPrint(settings('development', true), pipe)).toBe(true);
  });
});

describe('the line batch in front of stdout', () => {
  it('hands lines on in order, a batch at a time, and everything pending when the process exits', async () => {
    const file = path.join(makeTempDir('ballast-log-'), 'out.log');
    const batch = new LineBatch(pino.destination({ dest: file, sync: true }), 100);
    const read = () => fs.readFileSync(file, 'utf8');
    for (const line of ['one\n', 'two\n', 'three\n']) batch.write(line);
    expect(read()).toBe('');
    batch.write(`${'x'.repeat(100)}\n`);
    expect(read()).toBe(`one\ntwo\nthree\n${'x'.repeat(100)}\n`);
    batch.write('last\n');
    batch.flushSync();
    expect(read().endsWith('x\nlast\n')).toBe(true);
    // pino's `logger.flush(done)`: done once what was gathered is written.
    batch.write('flushed\n');
    await new Promise((resolve) => batch.flush(resolve));
    expect(read().endsWith('last\nflushed\n')).toBe(true);
  });
});
