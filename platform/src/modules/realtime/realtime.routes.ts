import type { WebSocket } from '@fastify/websocket';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { AppError } from '#platform/kernel/errors/errors.ts';
import { allowedOrigins, isOriginAllowed } from '#platform/kernel/http/security.ts';
import type { RealtimeHub, RealtimeIdentity } from './realtime-hub.ts';

export interface RealtimeRoutesOptions {
  readonly hub: RealtimeHub;
  /** Browser origins allowed besides the site's own (as for CORS). */
  readonly corsOrigins: readonly string[];
  readonly publicOrigin: string;
}

const handshakeQuery = z.object({ app: z.string().min(1).max(40) });

/**
 * `GET /realtime?app=<name>&ticket=<ticket>`: the live-updates WebSocket. Every check runs before
 * the upgrade, so a refused client gets an ordinary problem answer: 403 for a browser on a foreign
 * origin, 401 without a valid ticket, 400 for an unknown app.
 */
export async function realtimeRoutes(app: FastifyInstance, options: RealtimeRoutesOptions): Promise<void> {
  const { hub } = options;
  const allowed = allowedOrigins(options);
  const handshakes = new WeakMap<FastifyRequest, { app: string; identity: RealtimeIdentity }>();

  app.get(
    '/realtime',
    {
      websocket: true,
      // Cross-site WebSocket hijacking: browsers send cookies with a foreign page's handshake, and
      // a GET is not otherwise stopped by the origin check, so the handshake checks it here.
      preValidation: async (request) => {
        if (!isOriginAllowed(request, allowed)) {
          throw new AppError(
            'forbidden',
            'realtime.origin_not_allowed',
            `Origin ${request.headers.origin ?? ''} may not open live updates`,
          );
        }
        const identity = await hub.authenticate(request);
        if (identity === null) {
          throw new AppError('unauthenticated', 'realtime.unauthenticated', 'A valid realtime ticket is required');
        }
        const query = handshakeQuery.safeParse(request.query);
        if (!query.success || !hub.hasApp(query.data.app)) {
          throw new AppError('invalid_input', 'realtime.unknown_app', 'The app query parameter must name an app', {
            errors: [{ field: 'querystring.app', message: 'must name a registered app' }],
          });
        }
        handshakes.set(request, { app: query.data.app, identity });
      },
    },
    (socket: WebSocket, request) => {
      const handshake = handshakes.get(request);
      if (handshake === undefined) {
        socket.close(1011, 'handshake state lost');
        return;
      }
      hub.accept(socket, handshake.app, handshake.identity, request.log);
    },
  );
}
