import { defineModule } from '#platform/kernel/lifecycle/module.ts';
import { healthRoutes } from './health.routes.ts';

declare module '#platform/kernel/lifecycle/module.ts' {
  interface PlatformServices {
    health: undefined;
  }
}

/**
 * Health: `/healthz` (alive), `/readyz` (every module's readiness check, with per-check detail;
 * failing while the process drains) and Prometheus `/metrics`.
 */
export const healthModule = defineModule({
  name: 'health',
  dependsOn: [],
  create: (ctx) => ({
    service: undefined,
    routes: (server, registry) =>
      server.register(healthRoutes, {
        checks: registry.checks,
        metrics: ctx.metrics,
        metricsToken: ctx.config.http.metricsToken,
        version: ctx.version,
        isShuttingDown: () => ctx.lifecycle.isShuttingDown(),
      }),
  }),
});
