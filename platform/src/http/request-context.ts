import type { RateLimitPolicy } from './rate-limit.ts';

/** Who is making the request, once authentication has run (null for anonymous requests). */
export interface RequestUser {
  readonly id: string;
  readonly roles: readonly string[];
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The signed-in user, or null. Set by the auth module. */
    user: RequestUser | null;
  }
  interface FastifyContextConfig {
    /** The rate-limit policy of this route, reported in the RateLimit-Policy header. */
    rateLimitPolicy?: RateLimitPolicy;
    /** False exempts the route from load shedding (health probes, metrics). */
    shedLoad?: boolean;
  }
}
