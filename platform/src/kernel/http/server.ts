import path from 'node:path';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyRequest } from 'fastify';
import fastifyFormbody from '@fastify/formbody';
import fastifyStatic from '@fastify/static';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import fastifyUnderPressure from '@fastify/under-pressure';
import fastifyWebsocket, { type WebSocket } from '@fastify/websocket';
import {
  createJsonSchemaTransform,
  serializerCompiler,
  validatorCompiler,
  type ZodTypeProvider,
} from 'fastify-type-provider-zod';
import type { Redis } from 'ioredis';
import type { AppContext, AppDefinition } from '#platform/kernel/lifecycle/define-app.ts';
import type { Lifecycle, ModuleParts, Registry } from '#platform/kernel/lifecycle/module.ts';
import type { Config } from '#platform/kernel/config/load-config.ts';
import { AppError } from '#platform/kernel/errors/errors.ts';
import { AccessLine, type Logger } from '#platform/kernel/logging/logger.ts';
import { lazyRequestLogger } from '#platform/kernel/logging/request-logger.ts';
import type { Metrics } from '#platform/kernel/metrics/metrics.ts';
import { API_DESCRIPTION, API_SECURITY, apiComponents, documentProblems } from './api-docs.ts';
import { handleError, handleNotFound } from './errors.ts';
import { homeRoutes } from './home.routes.ts';
import { registerRateLimit } from './rate-limit.ts';
import { requestIdFor } from './request-id.ts';
import { registerSecurity } from './security.ts';
import { registerTextGuard } from './text-guard.ts';
import { trustProxyFunction } from './trust-proxy.ts';
import { sendShell, webAssets, type WebBuild } from './web-pages.ts';
import type { Access } from './request-context.ts';

/** One route of the server, as the permission matrix sees it. */
export interface RouteEntry {
  readonly method: string;
  readonly url: string;
  readonly access: Access | undefined;
  readonly websocket: boolean;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Every route registered, with its access rule. */
    routeCatalog: readonly RouteEntry[];
  }
}

export interface CreateServerOptions {
  readonly config: Config;
  readonly log: Logger;
  readonly apps: readonly AppDefinition[];
  /** What each app's routes receive. */
  readonly contexts: ReadonlyMap<string, AppContext>;
  /** The platform's modules, in dependency order: their identification hooks, routes and page sources. */
  readonly modules: readonly ModuleParts<unknown, unknown>[];
  readonly registry: Registry;
  readonly redis: Redis | undefined;
  readonly metrics: Metrics;
  readonly lifecycle: Lifecycle;
  readonly version: string;
  /** The browser code (`vite build`). */
  readonly web: { readonly dir: string; readonly build: WebBuild };
}

const LOAD_SHED_RETRY_AFTER_SECONDS = 5;
const MAX_SOCKET_MESSAGE_BYTES = 64 * 1024;

/**
 * Errors on an open WebSocket. `ws` reports a client that broke the protocol (a message over
 * `MAX_SOCKET_MESSAGE_BYTES`, bad UTF-8, an unmasked frame) with a `WS_ERR_*` code and is
 * already closing it with the matching status (1009, 1007, 1002): abuse to note at warn, without
 * a stack. Anything else is ours: logged as an error, the socket dropped.
 */
function handleSocketError(error: Error & { code?: unknown }, socket: WebSocket, request: FastifyRequest): void {
  if (typeof error.code === 'string' && error.code.startsWith('WS_ERR_')) {
    request.log.warn({ code: error.code, problem: error.message }, 'websocket client broke the protocol; closed');
    return;
  }
  request.log.error({ err: error }, 'websocket failed');
  socket.terminate();
}

/**
 * Builds the web server: hardened defaults first (request ids, errors, security headers, CORS,
 * rate limits, load shedding), then docs, health, the home page and every app's API.
 */
export async function createServer(options: CreateServerOptions): Promise<FastifyInstance> {
  const { config, log } = options;
  const app = Fastify({
    // pino's Logger is what Fastify expects; only the declared generic differs.
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion -- tsc needs it
    loggerInstance: log as FastifyBaseLogger,
    genReqId: requestIdFor,
    requestIdHeader: false,
    trustProxy: trustProxyFunction(config.http.trustProxy),
    bodyLimit: config.http.bodyLimitBytes,
    // One line per request, written when it completes (see the onResponse hook below).
    logController: new LogController({ disableRequestLogging: true }),
    // A request's child logger is made only if the request logs (bench/http: a microsecond each).
    childLoggerFactory: (parent, bindings, options) => lazyRequestLogger(parent as Logger, bindings, options),
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 200 },
  });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  registerTextGuard(app);
  app.decorateRequest('user', null);
  // Every page's frame (shared stylesheet, operator links), error pages included.
  app.decorate('webChrome', {
    build: options.web.build,
    devInbox: !config.isProduction,
    apiDocs: config.http.apiDocs,
  });
  app.setErrorHandler(handleError);
  app.setNotFoundHandler(handleNotFound);
  // Hooks that never wait take Fastify's callback form: no promise and no extra microtask per
  // request (bench/http).
  app.addHook('onRequest', (request, reply, done) => {
    void reply.header('x-request-id', request.id);
    request.log.debug({ req: request }, 'incoming request');
    done();
  });
  // While draining, in-flight responses close their keep-alive connection so the server can
  // finish instead of waiting for idle clients to hang up.
  app.addHook('onSend', (_request, reply, payload, done) => {
    if (options.lifecycle.isShuttingDown()) void reply.header('connection', 'close');
    done(null, payload);
  });
  // Once a request is answered: its latency, labelled by its route pattern (never the raw URL),
  // and its access line. The line goes through the server's logger with the request id as a
  // field, so a request that logs nothing else never makes its child logger; a route that logs at
  // warn (the health probes) writes none.
  const latency = options.metrics.httpDuration;
  const levelValues = log.levels.values;
  const infoValue = levelValues['info']!;
  app.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions;
    latency.observe(request.method, route.url ?? 'unmatched', reply.statusCode, reply.elapsedTime / 1000);
    const routeLevel = route.logLevel;
    if (
      log.isLevelEnabled('info') &&
      (routeLevel === undefined || routeLevel === '' || (levelValues[routeLevel] ?? infoValue) <= infoValue)
    ) {
      log.info(
        new AccessLine(request.id, request.method, request.url, reply.statusCode, reply.elapsedTime),
        'request completed',
      );
    }
    done();
  });

  if (config.http.maxEventLoopDelayMs > 0) {
    await app.register(fastifyUnderPressure, {
      maxEventLoopDelay: config.http.maxEventLoopDelayMs,
      retryAfter: LOAD_SHED_RETRY_AFTER_SECONDS,
      pressureHandler: (request, _reply, type, value) => {
        if (request.routeOptions.config.shedLoad === false) return;
        request.log.warn({ type, value }, 'shedding load');
        throw new AppError('unavailable', 'http.overloaded', 'The server is overloaded; retry shortly', {
          headers: { 'retry-after': String(LOAD_SHED_RETRY_AFTER_SECONDS) },
        });
      },
    });
  }
  await registerSecurity(app, {
    production: config.isProduction,
    corsOrigins: config.http.corsOrigins,
    publicOrigin: config.http.publicOrigin,
    contentSources: [
      ...options.modules.flatMap((module) => (module.contentSources === undefined ? [] : [module.contentSources])),
      {
        connect: options.apps.flatMap((definition) => definition.connectSources?.(config.apps[definition.name]) ?? []),
      },
    ],
  });
  // Every route and who may call it, for the permission matrix and operators.
  const routeCatalog: RouteEntry[] = [];
  app.decorate('routeCatalog', routeCatalog);
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    for (const method of methods) {
      if (method === 'HEAD') continue;
      routeCatalog.push({ method, url: route.url, access: route.config?.access, websocket: route.websocket === true });
    }
  });
  // Who is calling, before rate limits (per-user policies) and access checks need it.
  for (const module of options.modules) await module.identify?.(app);
  registerRateLimit(app, {
    max: config.http.rateLimit.max,
    windowMs: config.http.rateLimit.windowMs,
    redis: options.redis,
    log,
  });
  // HTML forms (operator pages, sign-in without JavaScript) post urlencoded bodies.
  await app.register(fastifyFormbody, { bodyLimit: config.http.bodyLimitBytes });
  await app.register(fastifyWebsocket, {
    options: { maxPayload: MAX_SOCKET_MESSAGE_BYTES },
    errorHandler: handleSocketError,
    // On shutdown every socket is told the server is going away (1001) rather than dropped.
    preClose: async function closeSockets(this: FastifyInstance) {
      for (const socket of this.websocketServer.clients) socket.close(1001, 'server shutting down');
      await new Promise<void>((resolve) => this.websocketServer.close(() => resolve()));
    },
  });
  if (config.http.apiDocs) {
    // The route catalog names each route with `:param`; OpenAPI paths read `{param}`.
    const accessByRoute = new Map<string, Access | undefined>();
    const accessOf = (method: string, path: string): Access | undefined => {
      if (accessByRoute.size === 0) {
        for (const route of routeCatalog) {
          accessByRoute.set(`${route.method} ${route.url.replace(/:(\w+)/g, '{$1}')}`, route.access);
        }
      }
      return accessByRoute.get(`${method} ${path}`);
    };
    await app.register(fastifySwagger, {
      openapi: {
        openapi: '3.1.0',
        info: { title: 'Ballast API', version: options.version, description: API_DESCRIPTION },
        // Relative: the docs call whichever host served them (PUBLIC_URL, a node, a tunnel).
        servers: [{ url: '/' }],
        components: apiComponents(),
        security: API_SECURITY,
      },
      transform: createJsonSchemaTransform({ skipList: ['/docs/openapi.json'] }),
      transformObject: (documents) =>
        'openapiObject' in documents ? documentProblems(documents.openapiObject, accessOf) : documents.swaggerObject,
    });
    await app.register(fastifySwaggerUi, {
      routePrefix: '/docs',
      theme: { title: 'Ballast API' },
      // Swagger UI sets inline styles; only its pages get 'unsafe-inline' for styles (never scripts).
      transformStaticCSP: (header) => header.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'"),
    });
    app.get('/docs/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  }

  await app.register(fastifyStatic, {
    root: path.join(import.meta.dirname, 'public'),
    prefix: '/assets/',
    decorateReply: false,
    maxAge: config.isProduction ? '1h' : 0,
  });
  const { web } = options;
  if (!web.build.built) log.warn({ dir: web.dir }, 'the web pages are not built: run npm run build:web');
  await app.register(webAssets, { dir: web.dir, production: config.isProduction });
  await app.register(homeRoutes, {
    apps: options.apps,
    version: options.version,
    apiDocs: config.http.apiDocs,
    notices: options.modules.flatMap((module) => module.notices ?? []),
  });
  for (const module of options.modules) if (module.routes !== undefined) await module.routes(app, options.registry);

  for (const definition of options.apps) {
    for (const [pagePath, title] of Object.entries(definition.pages ?? {})) {
      const url = `/${definition.name}${pagePath}`;
      app.get(url, { config: { access: 'public' }, schema: { hide: true } }, async (_request, reply) =>
        sendShell(reply, web.build, { title: `${title} · ${definition.title}`, entry: definition.name }),
      );
    }
  }
  for (const definition of options.apps) {
    if (definition.routes === undefined) continue;
    const routes = definition.routes;
    const ctx = options.contexts.get(definition.name)!;
    const defaultAccess = definition.defaultAccess ?? 'user';
    await app.register(
      async (scope) => {
        // Secure by default: a route that says nothing about access needs a signed-in user.
        scope.addHook('onRoute', (route) => {
          route.config = { ...route.config, access: route.config?.access ?? defaultAccess };
        });
        await routes(scope.withTypeProvider<ZodTypeProvider>(), ctx);
      },
      { prefix: `/api/${definition.name}` },
    );
  }
  return app;
}
