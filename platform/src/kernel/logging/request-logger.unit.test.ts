import { describe, expect, it, vi } from 'vitest';
import { captureLogs } from '#platform/testing/logs.ts';
import { createLogger } from './logger.ts';
import { lazyRequestLogger } from './request-logger.ts';

describe("a request's lazy logger", () => {
  it('makes its child only when it logs at an enabled level, with the request id on every line', () => {
    const logs = captureLogs();
    const parent = createLogger({ level: 'info', pretty: false, destination: logs.stream });
    const child = vi.spyOn(parent, 'child');
    const log = lazyRequestLogger(parent, { reqId: 'lazy-1' }, {});

    log.debug({ detail: 1 }, 'not written');
    expect(child).not.toHaveBeenCalled();
    expect(log.level).toBe('info');
    expect(log.isLevelEnabled('debug')).toBe(false);

    log.warn({ token: 'secret-token-1' }, 'first');
    log.info('second');
    expect(child).toHaveBeenCalledTimes(1);
    expect(logs.lines()).toMatchObject([
      { reqId: 'lazy-1', level: 'warn', msg: 'first', token: '[redacted]' },
      { reqId: 'lazy-1', level: 'info', msg: 'second' },
    ]);

    // A grandchild keeps the request id.
    log.child({ step: 'upload' }).error('third');
    expect(logs.lines()[2]).toMatchObject({ reqId: 'lazy-1', step: 'upload', msg: 'third' });
    expect(log.bindings()).toMatchObject({ reqId: 'lazy-1' });
  });

  it('gives a route with its own level a real child at once', () => {
    const logs = captureLogs();
    const parent = createLogger({ level: 'info', pretty: false, destination: logs.stream });
    const log = lazyRequestLogger(parent, { reqId: 'quiet-1' }, { level: 'warn' });
    log.info('dropped');
    log.warn('kept');
    expect(logs.lines()).toMatchObject([{ reqId: 'quiet-1', msg: 'kept' }]);
  });
});
