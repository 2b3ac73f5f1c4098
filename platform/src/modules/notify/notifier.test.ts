import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { defineApp } from '#platform/kernel/lifecycle/define-app.ts';
import { createBallast } from '../../host.ts';
import { issueRealtimeTicket } from '#platform/modules/realtime/ticket.ts';
import { startTestBallast, type TestBallast } from '#platform/testing/ballast.ts';
import { makeTempDir } from '#platform/testing/temp.ts';
import { z } from 'zod';
import { defineNotification } from '#platform/kernel/lifecycle/define-notification.ts';

const planReady = defineNotification({
  type: 'probe.plan-ready',
  title: 'Plan ready',
  data: z.object({ name: z.string(), planId: z.string() }),
  channels: ['in_app', 'email', 'sms'],
  render: (data) => ({
    title: `Your care plan is ready, ${data.name}`,
    text: `Hello ${data.name},\n\nYour plan ${data.planId} is ready.`,
    html: `<p>Hello <strong>${data.name}</strong>, your plan <em>${data.planId}</em> is ready.</p>`,
    sms: `Plan ${data.planId} is ready.`,
    link: `/probe/plans/${data.planId}`,
  }),
});

const codeNotice = defineNotification({
  type: 'probe.sign-in-code',
  title: 'Sign-in code',
  data: z.object({ code: z.string() }),
  channels: ['email'],
  mandatory: true,
  render: (data) => ({ title: 'Your sign-in code', text: `Your code is ${data.code}.` }),
});

const probeApp = defineApp({
  name: 'probe',
  title: 'Probe',
  summary: 'Notifications under test.',
  status: 'available',
  notifications: [planReady, codeNotice],
});

interface ReceivedMail {
  readonly to: string[];
  readonly raw: string;
}

/** A real SMTP server, started by the test. */
async function startSmtpServer(): Promise<{ url: string; mails: ReceivedMail[]; close(): Promise<void> }> {
  const mails: ReceivedMail[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, session, callback) {
      let raw = '';
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => (raw += chunk));
      stream.on('end', () => {
        mails.push({ to: session.envelope.rcptTo.map((rcpt) => rcpt.address), raw });
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.server.address() as AddressInfo;
  return {
    url: `smtp://127.0.0.1:${port}`,
    mails,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const accountSid = `AC${'1'.repeat(32)}`;
const authToken = 'twilio-test-auth-token-0123456789';

/** A local server speaking Twilio's Messages API. */
async function startTwilioServer(): Promise<{ url: string; messages: URLSearchParams[]; close(): Promise<void> }> {
  const messages: URLSearchParams[] = [];
  const server = http.createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      const expectedAuth = `Basic ${Buffer.from(`${accountSid}:${authToken}`).toString('base64')}`;
      response.setHeader('content-type', 'application/json');
      if (request.method !== 'POST' || request.url !== `/2010-04-01/Accounts/${accountSid}/Messages.json`) {
        response.statusCode = 404;
        return response.end(
          JSON.stringify({ code: 20404, message: 'The requested resource was not found', status: 404 }),
        );
      }
      if (request.headers.authorization !== expectedAuth) {
        response.statusCode = 401;
        return response.end(JSON.stringify({ code: 20003, message: 'Authenticate', status: 401 }));
      }
      const form = new URLSearchParams(body);
      if (form.get('To') === '+15005550001') {
        response.statusCode = 400;
        return response.end(
          JSON.stringify({ code: 21211, message: "The 'To' number is not a valid phone number.", status: 400 }),
        );
      }
      messages.push(form);
      const sid = `SM${String(messages.length).padStart(32, '0')}`;
      response.statusCode = 201;
      response.end(
        JSON.stringify({
          sid,
          account_sid: accountSid,
          to: form.get('To'),
          from: form.get('From'),
          body: form.get('Body'),
          status: 'queued',
        }),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    messages,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

async function waitFor<T>(read: () => Promise<T> | T, done: (value: T) => boolean, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`condition not met in ${timeoutMs} ms: ${JSON.stringify(value)}`);
    await sleep(100);
  }
}

describe('in local mode (no SMTP, no Twilio)', () => {
  let server: TestBallast;

  beforeAll(async () => {
    server = await startTestBallast({
      apps: [probeApp],
      roles: ['web', 'worker'],
      env: { TASKS_POLL_INTERVAL_SECONDS: '1' },
    });
  });

  afterAll(async () => {
    await server.close();
  });

  it('stores the in-app notification, pushes it live, and delivers email and SMS to the development inbox', async () => {
    const ticket = issueRealtimeTicket(server.ballast.config.security.signingSecret, 'user-1', 60);
    const socket = new WebSocket(`${server.url.replace('http', 'ws')}/realtime?app=probe&ticket=${ticket}`);
    const pushed = new Promise<Record<string, unknown>>((resolve) =>
      socket.on('message', (raw: Buffer) => {
        const frame = JSON.parse(raw.toString()) as Record<string, unknown>;
        if (frame['event'] === 'notification') resolve(frame);
      }),
    );
    await new Promise((resolve) => socket.once('open', resolve));

    const result = await server.ballast.notify.send('probe.plan-ready', {
      to: { userId: 'user-1', email: 'asha@example.com', phone: '+919800000001' },
      data: { name: 'Asha', planId: 'p-42' },
      idempotencyKey: 'plan:p-42',
    });
    expect(result.channels).toEqual(['in_app', 'email', 'sms']);

    const frame = await pushed;
    expect(frame).toMatchObject({
      channel: 'user:user-1',
      data: { title: 'Your care plan is ready, Asha', link: '/probe/plans/p-42' },
    });
    socket.close();

    const inbox = await waitFor(
      async () => (await fetch(`${server.url}/dev/inbox`)).text(),
      (page) => page.includes('+919800000001') && page.includes('asha@example.com'),
    );
    expect(inbox).toContain('Your care plan is ready, Asha');
    expect(inbox).toContain('Plan p-42 is ready.');
    expect(inbox).toContain('Local mode');
    const htmlLink = /href="(\/dev\/inbox\/[0-9a-f-]+\/html)"/.exec(inbox)?.[1];
    const rendered = await fetch(`${server.url}${htmlLink}`);
    expect(rendered.headers.get('content-security-policy')).toContain('sandbox');
    expect(await rendered.text()).toContain('<strong>Asha</strong>');

    const unread = await server.ballast.notify.listInApp('user-1', { unreadOnly: true });
    expect(unread).toHaveLength(1);
    expect(await server.ballast.notify.markRead('user-1', unread[0]!.id)).toBe(1);
    expect(await server.ballast.notify.listInApp('user-1', { unreadOnly: true })).toHaveLength(0);
    expect(await server.ballast.notify.listInApp('user-1')).toHaveLength(1);
  });

  it('sends a message once however often it is sent with the same idempotency key', async () => {
    const send = () =>
      server.ballast.notify.send('probe.sign-in-code', {
        to: { email: 'once@example.com' },
        data: { code: '123456' },
        idempotencyKey: 'code:once',
      });
    await Promise.all([send(), send(), send()]);
    await send();
    await waitFor(
      async () => (await fetch(`${server.url}/dev/inbox`)).text(),
      (page) => page.includes('once@example.com'),
    );
    await sleep(1500);
    const page = await (await fetch(`${server.url}/dev/inbox`)).text();
    expect(page.split('data-recipient="once@example.com"').length - 1).toBe(1);
  });

  it('creates nothing when the caller transaction rolls back', async () => {
    await expect(
      server.ballast.database.transaction(async (tx) => {
        await server.ballast.notify.send('probe.sign-in-code', {
          to: { email: 'rolled-back@example.com' },
          data: { code: '999999' },
          idempotencyKey: 'code:rolled-back',
          tx,
        });
        throw new Error('payment failed');
      }),
    ).rejects.toThrow('payment failed');
    await sleep(1500);
    expect(await (await fetch(`${server.url}/dev/inbox`)).text()).not.toContain('rolled-back@example.com');
  });

  it('respects opt-outs per type and channel, but not for mandatory types', async () => {
    await server.ballast.notify.setPreference('user-2', 'probe.plan-ready', 'email', false);
    const result = await server.ballast.notify.send('probe.plan-ready', {
      to: { userId: 'user-2', email: 'opted-out@example.com' },
      data: { name: 'Ravi', planId: 'p-7' },
      idempotencyKey: 'plan:p-7',
    });
    expect(result.channels).toEqual(['in_app']);
    await expect(
      server.ballast.notify.setPreference('user-2', 'probe.sign-in-code', 'email', false),
    ).rejects.toMatchObject({
      code: 'notify.mandatory',
    });
    const preferences = await server.ballast.notify.preferences('user-2');
    expect(preferences).toContainEqual({
      type: 'probe.plan-ready',
      title: 'Plan ready',
      channel: 'email',
      enabled: false,
      mandatory: false,
    });
    expect(preferences).toContainEqual({
      type: 'probe.sign-in-code',
      title: 'Sign-in code',
      channel: 'email',
      enabled: true,
      mandatory: true,
    });
  });

  it('refuses data that does not match the notification type', async () => {
    await expect(
      server.ballast.notify.send('probe.plan-ready', {
        to: { userId: 'u' },
        data: { name: 'x' },
        idempotencyKey: 'bad',
      }),
    ).rejects.toMatchObject({ kind: 'invalid_input', errors: [expect.objectContaining({ field: 'planId' })] });
  });
});

describe('with an SMTP server and Twilio', () => {
  let server: TestBallast;
  let smtp: Awaited<ReturnType<typeof startSmtpServer>>;
  let twilio: Awaited<ReturnType<typeof startTwilioServer>>;

  beforeAll(async () => {
    smtp = await startSmtpServer();
    twilio = await startTwilioServer();
    server = await startTestBallast({
      apps: [probeApp],
      roles: ['worker'],
      listen: false,
      env: {
        TASKS_POLL_INTERVAL_SECONDS: '1',
        SMTP_URL: smtp.url,
        EMAIL_FROM: 'Probe <no-reply@probe.example>',
        TWILIO_ACCOUNT_SID: accountSid,
        TWILIO_AUTH_TOKEN: authToken,
        TWILIO_FROM: '+15005550006',
        TWILIO_API_BASE_URL: twilio.url,
      },
    });
    await server.ballast.start();
  });

  afterAll(async () => {
    await server.close();
    await smtp.close();
    await twilio.close();
  });

  it('delivers the email to the SMTP server with its subject, text and HTML, and the SMS through Twilio', async () => {
    await server.ballast.notify.send('probe.plan-ready', {
      to: { userId: 'user-3', email: 'meera@example.com', phone: '+919800000003' },
      data: { name: 'Meera', planId: 'p-9' },
      idempotencyKey: 'plan:p-9',
    });
    const [mail] = await waitFor(
      () => smtp.mails,
      (mails) => mails.length === 1,
    );
    expect(mail!.to).toEqual(['meera@example.com']);
    expect(mail!.raw).toMatch(/^Subject: Your care plan is ready, Meera$/m);
    expect(mail!.raw).toMatch(/^From: Probe <no-reply@probe\.example>$/m);
    expect(mail!.raw).toMatch(/^Message-ID: <[0-9a-f]{32}@probe\.example>$/m);
    expect(mail!.raw).toContain('Content-Type: text/plain');
    expect(mail!.raw).toContain('Your plan p-9 is ready.');
    expect(mail!.raw).toContain('Content-Type: text/html');
    expect(mail!.raw).toContain('<strong>Meera</strong>');

    const [sms] = await waitFor(
      () => twilio.messages,
      (messages) => messages.length === 1,
    );
    expect(Object.fromEntries(sms!)).toEqual({ To: '+919800000003', From: '+15005550006', Body: 'Plan p-9 is ready.' });
  });

  it('dead-letters at once a message to a number Twilio refuses, and marks the delivery failed', async () => {
    await server.ballast.notify.send('probe.plan-ready', {
      to: { phone: '+15005550001' },
      data: { name: 'Nobody', planId: 'p-0' },
      idempotencyKey: 'plan:p-0',
    });
    const rows = await waitFor(
      async () =>
        (await server.ballast.database.db
          .withSchema('platform')
          .selectFrom('notification_delivery' as never)
          .selectAll()
          .where('recipient' as never, '=', '+15005550001' as never)
          .execute()) as unknown as { status: string; last_error: string; attempts: number }[],
      (found) => found.length === 1 && found[0]!.status === 'failed',
    );
    expect(rows[0]).toMatchObject({ attempts: 1, last_error: expect.stringContaining('21211') });
    const dead = await waitFor(
      () => server.ballast.tasks.deadLetters('platform.deliver-notification'),
      (letters) => letters.length === 1,
    );
    expect(dead[0]!.lastError).toContain('not a valid phone number');
  });
});

describe('in production', () => {
  it('refuses to start when a notification type uses a channel with no provider', async () => {
    await expect(
      createBallast({
        apps: [probeApp],
        roles: ['web'],
        env: {
          NODE_ENV: 'production',
          DATA_DIR: makeTempDir(),
          DATABASE_URL: 'postgres://ballast@127.0.0.1:1/never-reached',
          PUBLIC_URL: 'https://app.example.com',
          CORS_ORIGINS: 'https://app.example.com',
          SESSION_SECRET: 'p7Vd2-Lq9xWm4KsT8nRb1yZc6HfJ3gUe0aPo5iQw',
          SIGNING_SECRET: 'Qa1Ws2Ed3Rf4Tg5Yh6Uj7Ik8Ol9Pz0Xc-VbNmLkJh',
          AUTH_SIGNING_KEYS: '[]',
        },
      }),
    ).rejects.toMatchObject({
      problems: expect.arrayContaining([
        expect.objectContaining({ setting: 'SMTP_URL', message: expect.stringContaining('probe.plan-ready') }),
        expect.objectContaining({
          setting: 'TWILIO_ACCOUNT_SID',
          message: expect.stringContaining('probe.plan-ready'),
        }),
      ]),
    });
  });
});
