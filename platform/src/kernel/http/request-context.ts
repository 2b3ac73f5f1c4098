import type { RateLimitPolicy } from './rate-limit.ts';

/** Who is making the request, once authentication has run (null for anonymous requests). */
export interface RequestUser {
  readonly id: string;
  readonly email: string;
  /** Active roles, e.g. `coach:user`, `platform:admin`. */
  readonly roles: readonly string[];
  /** Roles asked for and awaiting an approver. */
  readonly pendingRoles: readonly string[];
  readonly tokenId: string;
  /** The generation of the user's tokens this one belongs to (sign-out and the like bump it). */
  readonly tokenGeneration: number;
  /** The sign-in the token belongs to (listed on the account page); absent for older tokens. */
  readonly sessionId?: string | undefined;
  /** How the token came: a cookie (CSRF-checked on writes) or an `Authorization: Bearer` header. */
  readonly via: 'cookie' | 'bearer';
}

/**
 * Who may call a route: anyone, any signed-in user, or holders of one of the roles (platform
 * admins pass every role check). App routes without an explicit access require a signed-in user.
 */
export type Access = 'public' | 'user' | readonly string[];

declare module 'fastify' {
  interface FastifyRequest {
    /** The signed-in user, or null. Set by the auth module. */
    user: RequestUser | null;
  }
  interface FastifyContextConfig {
    /** The rate-limit policy of this route, reported in the RateLimit-Policy header. */
    rateLimitPolicy?: RateLimitPolicy;
    /** Further policies the route is also counted against (e.g. per address and per IP). */
    rateLimitAlso?: readonly RateLimitPolicy[];
    /** False exempts the route from load shedding (health probes, metrics). */
    shedLoad?: boolean;
    /** Who may call this route (enforced before the handler; listed by the permission matrix). */
    access?: Access;
  }
}
