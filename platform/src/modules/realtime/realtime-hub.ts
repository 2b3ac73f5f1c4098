import { randomBytes } from 'node:crypto';
import type { WebSocket } from '@fastify/websocket';
import type { FastifyBaseLogger, FastifyRequest } from 'fastify';
import type { Redis } from 'ioredis';
import client from 'prom-client';
import { z } from 'zod';
import type { Config } from '#platform/kernel/config/load-config.ts';
import { AppError, isAppError } from '#platform/kernel/errors/errors.ts';
import { databaseUnavailable, isDatabaseUnavailable } from '#platform/kernel/db/connection-errors.ts';
import type { Database } from '#platform/kernel/db/database.ts';
import type { Logger } from '#platform/kernel/logging/logger.ts';
import type { Metrics } from '#platform/kernel/metrics/metrics.ts';
import type { Service } from '#platform/kernel/lifecycle/module.ts';
import { findUnstorableText } from '#platform/kernel/http/text-guard.ts';
import { createPostgresBus } from './providers/postgres-bus.ts';
import { createRedisBus } from './providers/redis-bus.ts';
import { MAX_BUS_MESSAGE_BYTES, type BusState, type RealtimeBus } from './realtime-bus.ts';
import { verifyRealtimeTicket } from './ticket.ts';

/** Who holds a realtime socket. */
export interface RealtimeIdentity {
  readonly userId: string;
  /**
   * The generation of the access token the socket was opened with; a revocation of that
   * generation closes it. Undefined for a ticket, which any revocation of the user closes.
   */
  readonly tokenGeneration?: number | undefined;
}

/** Decides who opens a socket from its handshake request; null refuses it with 401. */
export type RealtimeAuthenticator = (request: FastifyRequest) => Promise<RealtimeIdentity | null>;

/** Decides whether `identity` may follow `topic` in `app` (the topic name, without `topic:`). */
export type TopicAuthorizer = (identity: RealtimeIdentity, app: string, topic: string) => boolean | Promise<boolean>;

/**
 * How the platform's realtime module learns who may connect and follow what. Defaults: a signed
 * ticket in the `ticket` query parameter (see `issueRealtimeTicket`), and topics named `<app>:...`.
 */
export interface RealtimeHooks {
  readonly authenticate?: RealtimeAuthenticator;
  readonly authorizeTopic?: TopicAuthorizer;
}

/** One live update. Sockets receive it as `{"type":"event","channel","event","data"}`. */
export interface RealtimeMessage {
  /** The app whose sockets receive it. */
  readonly app: string;
  /** `user:<id>` (every socket of that user in the app) or `topic:<name>` (sockets subscribed to it). */
  readonly channel: string;
  /** What happened, e.g. `complaint.updated`. */
  readonly event: string;
  /** JSON-serialisable; the whole message must encode to under 8000 bytes. */
  readonly data?: unknown;
}

/** Live updates as the rest of Ballast sees them: `ballast.realtime`. */
export interface Realtime {
  /**
   * Sends a message to its channel's subscribers on every node. Resolves once the bus has it
   * (delivery is best-effort: a socket that is reconnecting misses it). Throws `AppError`
   * `invalid_input` for a bad channel or event, `payload_too_large` for 8000 bytes or more, and
   * `unavailable` when the bus cannot be reached.
   */
  publish(message: RealtimeMessage): Promise<void>;
  /** Sockets open on this node, for one app or all of them. */
  countLocalConnections(app?: string): number;
  /**
   * Closes, on every node and in every app, the sockets `userId` opened with a token older than
   * `generation` (and those opened with a ticket), with close code 4401: their tokens were revoked
   * (sign-out, password change or reset, account disabled); every node also forgets what it keeps
   * of the user. Resolves once this node heard the message back (at most 2 s later). Throws
   * `AppError` `unavailable` when the bus cannot be reached.
   */
  closeRevoked(userId: string, generation: number): Promise<void>;
}

/** The realtime module inside the web server: sockets, subscriptions and the bus. */
export interface RealtimeHub extends Realtime, Service {
  readonly authenticate: RealtimeAuthenticator;
  hasApp(name: string): boolean;
  /**
   * Takes over an upgraded socket whose handshake passed. A user already holding
   * `REALTIME_MAX_CONNECTIONS_PER_USER` sockets in the app has their oldest closed with 4409; a
   * socket beyond `REALTIME_MAX_CONNECTIONS_PER_APP` is closed with 4429.
   */
  accept(socket: WebSocket, app: string, identity: RealtimeIdentity, log: FastifyBaseLogger): void;
  /** Proves this node hears the bus (see `RealtimeBus.check`), for `/readyz`. */
  checkBus(): Promise<string | undefined>;
  /**
   * Tells every node, this one included, that what `userId` may do changed (roles, disabled,
   * tokens revoked): nodes that cache identity forget theirs. Resolves once this node heard the
   * message back (at most 2 s later). Throws `AppError` `unavailable` when the bus cannot be reached.
   */
  announceUserChanged(userId: string): Promise<void>;
  /** Calls `listener` with the user id of every user-changed or revocation message this node hears. */
  onUserChanged(listener: (userId: string) => void): void;
  /**
   * Calls `listener` whenever this node starts or stops hearing the bus. A node that does not
   * listen (a worker) never reports up.
   */
  onBusState(listener: (state: BusState) => void): void;
  /** Whether this node hears the bus now: messages published now will reach it. */
  isBusUp(): boolean;
  /**
   * Sets the check every request a socket sends must pass before its app's handler runs: false
   * answers `realtime.unauthenticated` and closes the socket with 4401 (the auth module checks
   * that the user's token is still valid, through its actor cache).
   */
  guardRequests(check: RequestGuard): void;
}

/** Whether a socket's identity may still send requests (see `RealtimeHub.guardRequests`). */
export type RequestGuard = (identity: RealtimeIdentity) => Promise<boolean>;

export interface CreateRealtimeHubOptions {
  readonly config: Config;
  /** Names of the registered apps: a socket and a message belong to one of them. */
  readonly apps: readonly string[];
  readonly database: Database;
  readonly redis: Redis | undefined;
  readonly metrics: Metrics;
  readonly log: Logger;
  /** Qualifies the Redis channel, so deployments sharing one Redis never hear each other. */
  readonly installationId: string;
  /** Listen on the bus and ping sockets (web role); a worker-only process only publishes. */
  readonly serve: boolean;
  readonly hooks?: RealtimeHooks | undefined;
  /**
   * Answers `{"type":"request","id","name","data"}` frames: the app's handler for `name`, or
   * undefined when it has none. The reply is `{"type":"reply","id","ok","data"|"error"}`.
   */
  readonly requests?: (app: string, name: string) => RealtimeRequestHandler | undefined;
}

/** Answers one request a socket sent; throw an `AppError` to answer with its code and message. */
export type RealtimeRequestHandler = (userId: string, data: unknown) => Promise<unknown>;

/** Close code for a socket refused because its app holds `REALTIME_MAX_CONNECTIONS_PER_APP`. */
export const CLOSE_TOO_MANY_CONNECTIONS = 4429;
/** Close code for a socket whose token was revoked: sign in again. */
export const CLOSE_REVOKED = 4401;
/**
 * Close code for a user's oldest socket in an app when they open one more than
 * `REALTIME_MAX_CONNECTIONS_PER_USER` (another tab took its place): do not reconnect.
 */
export const CLOSE_REPLACED = 4409;
const MAX_TOPICS_PER_SOCKET = 100;
/** A socket that has this much unsent data is too slow to keep up and is dropped. */
const MAX_BUFFERED_BYTES = 1024 * 1024;

const topicName = z.string().regex(/^[\w.:/-]{1,200}$/, 'letters, digits and . : / - _ only, at most 200');
const clientMessage = z.discriminatedUnion('type', [
  z.object({ type: z.enum(['subscribe', 'unsubscribe']), topic: topicName }),
  z.object({
    type: z.literal('request'),
    id: z.union([z.string().max(100), z.number()]),
    name: z.string().regex(/^[\w.:-]{1,100}$/),
    data: z.unknown().optional(),
  }),
]);
const busMessage = z.object({ app: z.string(), channel: z.string(), event: z.string(), data: z.unknown().optional() });
/** Bus message that closes a user's sockets opened with revoked tokens (not an app event). */
const revokedMessage = z.object({
  revoked: z.object({ userId: z.string(), generation: z.number().int() }),
  echo: z.string().optional(),
});
/** Bus message saying a user's roles or status changed (not an app event). */
const userChangedMessage = z.object({ userChanged: z.object({ userId: z.string() }), echo: z.string().optional() });
/**
 * How long a node that announced a change to a user waits to hear its own message back, in ms:
 * by then the other nodes, listening on the same bus, have in all likelihood heard it too.
 */
const ECHO_WAIT_MS = 2000;
const publishedMessage = z.object({
  app: z.string(),
  channel: z
    .string()
    .refine(
      (channel) =>
        /^user:.{1,200}$/.test(channel) ||
        (channel.startsWith('topic:') && topicName.safeParse(channel.slice('topic:'.length)).success),
      'must be user:<id> or topic:<name>',
    ),
  event: z.string().regex(/^[\w.:-]{1,100}$/, 'letters, digits and . : - _ only, at most 100'),
  data: z.unknown().optional(),
});
const ticketQuery = z.object({ ticket: z.string().min(1).max(1000) });

/** The default authenticator: a ticket from `issueRealtimeTicket` in the `ticket` query parameter. */
export function authenticateWithTicket(secret: string): RealtimeAuthenticator {
  return async (request) => {
    const query = ticketQuery.safeParse(request.query);
    if (!query.success) return null;
    const ticket = verifyRealtimeTicket(secret, query.data.ticket);
    return ticket === null ? null : { userId: ticket.userId };
  };
}

/** The default topic rule: an app's sockets may follow the topics named after it (`coach:...`). */
export const allowOwnAppTopics: TopicAuthorizer = (_identity, app, topic) => topic.startsWith(`${app}:`);

interface Connection {
  readonly socket: WebSocket;
  readonly app: string;
  readonly identity: RealtimeIdentity;
  /** The user channel and every subscribed topic channel. */
  readonly channels: Set<string>;
  readonly log: FastifyBaseLogger;
  /** Answered the last ping. */
  alive: boolean;
  /** The turn of the ping sweep that visits it (see `sweep`). */
  readonly turn: number;
}

/**
 * Creates the realtime module: the bus (Redis pub/sub when `REDIS_URL` is set, PostgreSQL
 * LISTEN/NOTIFY otherwise), the sockets of this node indexed by app and channel, the ping sweep,
 * and the `realtime_connections` and `realtime_messages_published_total` metrics.
 */
export function createRealtimeHub(options: CreateRealtimeHubOptions): RealtimeHub {
  const { config, log } = options;
  const settings = config.realtime;
  const apps = new Set(options.apps);
  const authorizeTopic = options.hooks?.authorizeTopic ?? allowOwnAppTopics;
  const bus: RealtimeBus =
    options.redis === undefined
      ? createPostgresBus({ database: options.database, log })
      : createRedisBus({
          redis: options.redis,
          channel: `ballast:realtime:${options.installationId}`,
          heartbeatMs: options.database.listenerCheckMs,
          log,
        });
  const userChangedListeners: ((userId: string) => void)[] = [];
  const busStateListeners: ((state: BusState) => void)[] = [];
  let requestGuard: RequestGuard | undefined;
  let busUp = false;
  const echoes = new Map<string, () => void>();
  bus.onState((state) => {
    busUp = state === 'up';
    for (const listener of busStateListeners) listener(state);
  });
  const byApp = new Map<string, Set<Connection>>();
  const byChannel = new Map<string, Set<Connection>>();
  let sweeper: NodeJS.Timeout | undefined;
  /**
   * The ping sweep visits the sockets in turns, about one a second (30 at the default interval),
   * each socket once per interval: 10,000 sockets pinged at once hold the event loop for a quarter
   * of a second, which every request and heartbeat then waits out.
   */
  const sweepTurns = Math.max(1, Math.min(60, Math.round(settings.pingIntervalMs / 1000)));
  let nextTurn = 0;
  let sweepTurn = 0;

  new client.Gauge({
    name: 'realtime_connections',
    help: 'Open live-update sockets on this node, by app',
    labelNames: ['app'] as const,
    registers: [options.metrics.registry],
    collect() {
      for (const app of apps) this.set({ app }, byApp.get(app)?.size ?? 0);
    },
  });
  const published = new client.Counter({
    name: 'realtime_messages_published_total',
    help: 'Live-update messages this node put on the bus, by app',
    labelNames: ['app'] as const,
    registers: [options.metrics.registry],
  });

  const channelKey = (app: string, channel: string): string => `${app}|${channel}`;

  function join(connection: Connection, channel: string): void {
    connection.channels.add(channel);
    const key = channelKey(connection.app, channel);
    const members = byChannel.get(key) ?? new Set();
    members.add(connection);
    byChannel.set(key, members);
  }

  function part(connection: Connection, channel: string): void {
    connection.channels.delete(channel);
    const key = channelKey(connection.app, channel);
    const members = byChannel.get(key);
    members?.delete(connection);
    if (members?.size === 0) byChannel.delete(key);
  }

  /** Drops a connection from every index; a second call (its 'close' after a replacement) does nothing. */
  function forget(connection: Connection): void {
    const open = byApp.get(connection.app);
    if (open === undefined || !open.delete(connection)) return;
    if (open.size === 0) byApp.delete(connection.app);
    for (const channel of [...connection.channels]) part(connection, channel);
    connection.log.debug({ app: connection.app }, 'realtime socket closed');
  }

  /**
   * Makes room for one more socket of `userId` in `app`: closes their oldest open ones beyond the
   * per-user cap and forgets them at once, so they no longer count against the app's cap either.
   */
  function replaceOldest(app: string, userId: string): void {
    const mine = [...(byChannel.get(channelKey(app, `user:${userId}`)) ?? [])].filter(
      (connection) => connection.socket.readyState === connection.socket.OPEN,
    );
    // A channel's members are kept in the order they joined: the oldest first.
    for (const connection of mine.slice(0, Math.max(0, mine.length - settings.maxConnectionsPerUser + 1))) {
      connection.log.info(
        { app, limit: settings.maxConnectionsPerUser },
        'realtime socket replaced by a newer one of the same user',
      );
      connection.socket.close(CLOSE_REPLACED, 'replaced by a newer connection');
      forget(connection);
    }
  }

  function send(connection: Connection, frame: unknown): void {
    const { socket } = connection;
    if (socket.readyState !== socket.OPEN) return;
    if (socket.bufferedAmount > MAX_BUFFERED_BYTES) {
      connection.log.warn(
        { app: connection.app, buffered: socket.bufferedAmount },
        'realtime client too slow; dropped',
      );
      socket.terminate();
      return;
    }
    socket.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  async function toBus(payload: string): Promise<void> {
    try {
      await bus.publish(payload);
    } catch (error) {
      throw new AppError('unavailable', 'realtime.unavailable', 'Live updates are unavailable; try again shortly', {
        cause: error,
      });
    }
  }

  /**
   * Publishes a user change and resolves once this node heard it back (or after `ECHO_WAIT_MS`,
   * or at once when this node does not hear the bus), so that the request that made the change
   * answers after the other nodes were sent the message and, in all likelihood, acted on it.
   */
  async function announce(message: Record<string, unknown>): Promise<void> {
    if (!busUp) {
      await toBus(JSON.stringify(message));
      return;
    }
    const echo = randomBytes(9).toString('base64url');
    let timer: NodeJS.Timeout | undefined;
    const heard = new Promise<void>((resolve) => {
      echoes.set(echo, resolve);
      timer = setTimeout(resolve, ECHO_WAIT_MS);
    });
    try {
      await toBus(JSON.stringify({ ...message, echo }));
      await heard;
    } finally {
      clearTimeout(timer);
      echoes.delete(echo);
    }
  }

  function closeRevoked(userId: string, generation: number): void {
    for (const app of apps) {
      const members = byChannel.get(channelKey(app, `user:${userId}`));
      for (const connection of [...(members ?? [])]) {
        const opened = connection.identity.tokenGeneration;
        if (opened !== undefined && opened >= generation) continue;
        connection.log.info({ app, userId }, 'realtime socket closed: its token was revoked');
        // CLOSING at once: `send` skips it and `receive` ignores it until 'close' forgets it.
        connection.socket.close(CLOSE_REVOKED, 'signed out');
      }
    }
  }

  function userChanged(userId: string): void {
    for (const listener of userChangedListeners) {
      try {
        listener(userId);
      } catch (error) {
        log.error({ err: error, userId }, 'realtime: a user-changed listener failed');
      }
    }
  }

  function deliver(payload: string): void {
    let message: z.output<typeof busMessage>;
    try {
      const parsed: unknown = JSON.parse(payload);
      const revoked = revokedMessage.safeParse(parsed);
      if (revoked.success) {
        userChanged(revoked.data.revoked.userId);
        closeRevoked(revoked.data.revoked.userId, revoked.data.revoked.generation);
        if (revoked.data.echo !== undefined) echoes.get(revoked.data.echo)?.();
        return;
      }
      const changed = userChangedMessage.safeParse(parsed);
      if (changed.success) {
        userChanged(changed.data.userChanged.userId);
        if (changed.data.echo !== undefined) echoes.get(changed.data.echo)?.();
        return;
      }
      message = busMessage.parse(parsed);
    } catch (error) {
      log.warn({ err: error }, 'realtime: dropped a malformed bus message');
      return;
    }
    const members = byChannel.get(channelKey(message.app, message.channel));
    if (members === undefined) return;
    const frame = JSON.stringify({ type: 'event', channel: message.channel, event: message.event, data: message.data });
    for (const connection of members) send(connection, frame);
  }

  async function receive(connection: Connection, data: unknown, isBinary: boolean): Promise<void> {
    // Closing (a revoked token, a full app): nothing it sends is acted on.
    if (connection.socket.readyState !== connection.socket.OPEN) return;
    let parsed: z.output<typeof clientMessage> | undefined;
    let problem = 'not text';
    if (!isBinary && Buffer.isBuffer(data)) {
      try {
        const result = clientMessage.safeParse(JSON.parse(data.toString('utf8')));
        if (result.success) parsed = result.data;
        else problem = 'not a known message';
      } catch {
        problem = 'not JSON';
      }
    }
    if (parsed === undefined) {
      // A client's mistake or abuse, not a fault of ours: a warning, without a stack.
      connection.log.warn({ app: connection.app, problem }, 'realtime: refused a malformed message');
      send(connection, {
        type: 'error',
        code: 'realtime.invalid_message',
        message:
          'Send JSON text {"type":"subscribe"|"unsubscribe","topic":"<app>:<name>"} or {"type":"request","id","name","data"}',
      });
      return;
    }
    if (parsed.type === 'request') {
      await answer(connection, parsed.id, parsed.name, parsed.data);
      return;
    }
    const { topic } = parsed;
    const channel = `topic:${topic}`;
    if (parsed.type === 'unsubscribe') {
      part(connection, channel);
      send(connection, { type: 'unsubscribed', topic });
      return;
    }
    if (connection.channels.has(channel)) {
      send(connection, { type: 'subscribed', topic });
      return;
    }
    // The user channel is not a topic.
    if (connection.channels.size > MAX_TOPICS_PER_SOCKET) {
      send(connection, {
        type: 'error',
        code: 'realtime.too_many_topics',
        message: `A socket may follow at most ${MAX_TOPICS_PER_SOCKET} topics`,
        topic,
      });
      return;
    }
    let allowed = false;
    try {
      allowed = await authorizeTopic(connection.identity, connection.app, topic);
    } catch (error) {
      connection.log.error({ err: error, app: connection.app, topic }, 'realtime topic authorization failed');
    }
    if (!allowed) {
      send(connection, {
        type: 'error',
        code: 'realtime.topic_forbidden',
        message: `You may not subscribe to ${topic}`,
        topic,
      });
      return;
    }
    // Closed while the authorizer ran: its channels are already forgotten.
    if (connection.socket.readyState !== connection.socket.OPEN) return;
    join(connection, channel);
    send(connection, { type: 'subscribed', topic });
  }

  async function answer(connection: Connection, id: string | number, name: string, data: unknown): Promise<void> {
    // As for HTTP routes: text the database cannot store never reaches a handler.
    const unstorable = findUnstorableText(data, 'data');
    if (unstorable.length > 0) {
      connection.log.warn({ app: connection.app, name, errors: unstorable }, 'realtime: refused a malformed message');
      send(connection, {
        type: 'reply',
        id,
        ok: false,
        error: {
          code: 'realtime.invalid_text',
          message: 'Text may not contain NUL characters or unpaired surrogates',
          errors: unstorable,
        },
      });
      return;
    }
    const handler = options.requests?.(connection.app, name);
    if (handler === undefined) {
      connection.log.warn({ app: connection.app, name }, 'realtime: refused an unknown request');
      send(connection, {
        type: 'reply',
        id,
        ok: false,
        error: { code: 'realtime.unknown_request', message: `No request ${name} in ${connection.app}` },
      });
      return;
    }
    try {
      // The token the socket was opened with, checked again on every request (through the auth
      // module's actor cache): a sign-out or a disabling whose bus message this node missed still
      // stops the socket at its next request, as it stops an HTTP request.
      if (requestGuard !== undefined && !(await requestGuard(connection.identity))) {
        send(connection, {
          type: 'reply',
          id,
          ok: false,
          error: { code: 'realtime.unauthenticated', message: 'Your session has ended; sign in again' },
        });
        connection.log.info({ app: connection.app }, 'realtime socket closed: its token is no longer valid');
        connection.socket.close(CLOSE_REVOKED, 'signed out');
        return;
      }
      const result = await handler(connection.identity.userId, data);
      send(connection, { type: 'reply', id, ok: true, data: result ?? null });
    } catch (error) {
      const known = isAppError(error) ? error : isDatabaseUnavailable(error) ? databaseUnavailable(error) : undefined;
      if (known !== undefined) {
        send(connection, { type: 'reply', id, ok: false, error: { code: known.code, message: known.message } });
        return;
      }
      connection.log.error({ err: error, app: connection.app, name }, 'realtime request failed');
      send(connection, { type: 'reply', id, ok: false, error: { code: 'internal', message: 'Internal server error' } });
    }
  }

  /** One turn of the ping sweep: the sockets of this turn, each pinged once per interval. */
  function sweep(): void {
    const turn = sweepTurn;
    sweepTurn = (sweepTurn + 1) % sweepTurns;
    for (const open of byApp.values()) {
      for (const connection of open) {
        if (connection.turn !== turn) continue;
        if (!connection.alive) {
          connection.log.info({ app: connection.app }, 'realtime socket missed a ping; dropped');
          connection.socket.terminate();
          continue;
        }
        connection.alive = false;
        connection.socket.ping();
      }
    }
  }

  function encode(message: RealtimeMessage): string {
    const checked = publishedMessage.safeParse(message);
    if (!checked.success) {
      throw new AppError('invalid_input', 'realtime.invalid_message', 'The realtime message is invalid', {
        errors: checked.error.issues.map((issue) => ({
          field: issue.path.map(String).join('.'),
          message: issue.message,
        })),
      });
    }
    if (!apps.has(message.app)) {
      throw new AppError('invalid_input', 'realtime.unknown_app', `No app named ${message.app} is registered`);
    }
    let payload: string;
    try {
      payload = JSON.stringify({
        app: message.app,
        channel: message.channel,
        event: message.event,
        data: message.data ?? null,
      });
    } catch (error) {
      throw new AppError('invalid_input', 'realtime.invalid_message', 'The realtime message data is not JSON', {
        cause: error,
      });
    }
    const bytes = Buffer.byteLength(payload);
    if (bytes > MAX_BUS_MESSAGE_BYTES) {
      throw new AppError(
        'payload_too_large',
        'realtime.message_too_large',
        `The realtime message encodes to ${bytes} bytes; the limit is ${MAX_BUS_MESSAGE_BYTES}. Send an id and let clients fetch the rest.`,
        { details: { bytes, limitBytes: MAX_BUS_MESSAGE_BYTES } },
      );
    }
    return payload;
  }

  return {
    name: 'realtime',
    authenticate: options.hooks?.authenticate ?? authenticateWithTicket(config.security.signingSecret),
    hasApp: (name) => apps.has(name),
    checkBus: () => bus.check(),
    async publish(message) {
      await toBus(encode(message));
      published.inc({ app: message.app });
    },
    closeRevoked: (userId, generation) => announce({ revoked: { userId, generation } }),
    announceUserChanged: (userId) => announce({ userChanged: { userId } }),
    onUserChanged(listener) {
      userChangedListeners.push(listener);
    },
    guardRequests(check) {
      requestGuard = check;
    },
    onBusState(listener) {
      busStateListeners.push(listener);
    },
    isBusUp: () => busUp,
    countLocalConnections(app) {
      if (app !== undefined) return byApp.get(app)?.size ?? 0;
      let count = 0;
      for (const open of byApp.values()) count += open.size;
      return count;
    },
    accept(socket, app, identity, requestLog) {
      replaceOldest(app, identity.userId);
      const open = byApp.get(app) ?? new Set<Connection>();
      if (open.size >= settings.maxConnectionsPerApp) {
        requestLog.warn({ app, limit: settings.maxConnectionsPerApp }, 'realtime socket refused: too many connections');
        socket.close(CLOSE_TOO_MANY_CONNECTIONS, 'too many connections');
        return;
      }
      const turn = nextTurn;
      nextTurn = (nextTurn + 1) % sweepTurns;
      const connection: Connection = { socket, app, identity, channels: new Set(), log: requestLog, alive: true, turn };
      open.add(connection);
      byApp.set(app, open);
      join(connection, `user:${identity.userId}`);
      socket.on('pong', () => {
        connection.alive = true;
      });
      socket.on('message', (data, isBinary) => {
        receive(connection, data, isBinary).catch((error: unknown) => {
          connection.log.error({ err: error, app }, 'realtime message handling failed');
        });
      });
      socket.on('close', () => forget(connection));
      requestLog.debug({ app }, 'realtime socket opened');
    },
    async start() {
      if (!options.serve) return;
      await bus.listen(deliver);
      sweeper = setInterval(sweep, settings.pingIntervalMs / sweepTurns);
      sweeper.unref();
      log.info({ bus: bus.name }, 'realtime listening');
    },
    async stop() {
      clearInterval(sweeper);
      await bus.close();
    },
  };
}
