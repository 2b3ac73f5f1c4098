import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from '@ballast/platform';
import { createBallast, type Ballast } from '@ballast/platform/host';
import { createTestDatabase, makeTempDir, type TestDatabase } from '@ballast/platform/testing';
import { mailerApp } from '../fixtures/mailer-app.ts';
import { runNode, type TestProcess } from '../support/process.ts';

let database: TestDatabase;
let control: Ballast;
let smtp: SMTPServer;
let smtpUrl: string;
const received: string[] = [];
/** While set, the SMTP server keeps the message but holds back its final answer. */
let holdAnswer: (() => void) | undefined;
const workers: TestProcess[] = [];

function startWorker(): TestProcess {
  const worker = runNode('tests/fixtures/serve-mailer-worker.ts', [], {
    DATABASE_URL: database.url,
    DATA_DIR: makeTempDir(),
    NODE_ENV: 'test',
    SMTP_URL: smtpUrl,
    EMAIL_FROM: 'Shop <receipts@shop.example>',
    TASKS_HEARTBEAT_SECONDS: '10',
    TASKS_MONITOR_INTERVAL_SECONDS: '2',
    TASKS_POLL_INTERVAL_SECONDS: '1',
  });
  workers.push(worker);
  return worker;
}

beforeAll(async () => {
  database = await createTestDatabase();
  control = await createBallast({
    apps: [mailerApp],
    roles: [],
    env: { NODE_ENV: 'test', DATABASE_URL: database.url, DATA_DIR: makeTempDir(), LOG_LEVEL: 'warn' },
  });
  smtp = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, _session, callback) {
      let raw = '';
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => (raw += chunk));
      stream.on('end', () => {
        received.push(raw);
        if (holdAnswer === undefined) callback();
        else setTimeout(callback, 30_000).unref();
        holdAnswer?.();
      });
    },
  });
  await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', () => resolve()));
  smtpUrl = `smtp://127.0.0.1:${(smtp.server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  for (const worker of workers) if (worker.child.exitCode === null) worker.child.kill('SIGKILL');
  await Promise.all(workers.map((worker) => worker.exited));
  await control.stop();
  await new Promise<void>((resolve) => smtp.close(() => resolve()));
  await database.drop();
});

describe('email delivery through a worker crash', () => {
  it('does not send a second email when the worker dies between "sent" and "marked sent"', async () => {
    const first = startWorker();
    await first.waitFor(/"msg":"task worker started"/);
    const handedOver = new Promise<void>((resolve) => (holdAnswer = resolve));
    await control.notify.send('mailer.receipt', {
      to: { email: 'buyer@example.com' },
      data: { orderId: 'A-1001' },
      idempotencyKey: 'receipt:A-1001',
    });
    // The SMTP server has the whole message; the worker waits for its answer. Kill it now.
    await handedOver;
    first.child.kill('SIGKILL');
    await first.exited;
    holdAnswer = undefined;

    const second = startWorker();
    await second.waitFor(/"msg":"task worker started"/);
    // The task runs again once the dead worker's heartbeat lapses; it must not resend.
    const deadline = Date.now() + 60_000;
    let status = '';
    while (Date.now() < deadline) {
      const row = await sql<{ status: string }>`
        select status from platform.notification_delivery where idempotency_key = 'mailer.receipt:receipt:A-1001:email'`.execute(
        control.database.db,
      );
      status = row.rows[0]?.status ?? '';
      if (status === 'unconfirmed') break;
      await sleep(500);
    }
    expect(status).toBe('unconfirmed');
    await sleep(2000);
    expect(received).toHaveLength(1);
    expect(received[0]).toMatch(/^Subject: Receipt for order A-1001$/m);
    expect(second.output()).toContain('delivery unconfirmed: not resent');
  }, 90_000);
});
