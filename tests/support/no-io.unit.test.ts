import { execFile } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import { describe, expect, it } from 'vitest';

describe('the unit tier', () => {
  it('refuses a network connection, naming where such a test belongs', () => {
    expect(() => net.connect(5432, '127.0.0.1')).toThrow(/a unit test does no I\/O \(a network connection\)/);
  });

  it('refuses fetch, whose socket is a network connection', async () => {
    const failure = (await fetch('http://127.0.0.1:80/').catch((error: unknown) => error)) as Error;
    expect(String(failure.cause)).toMatch(/a unit test does no I\/O/);
  });

  it('refuses to listen on a port', () => {
    expect(() => http.createServer().listen(0)).toThrow(/a unit test does no I\/O \(a listening server\)/);
  });

  it('refuses to start a process', () => {
    expect(() => execFile(process.execPath, ['--version'])).toThrow(/child_process\.execFile/);
  });
});
