import type { SettingsOf } from '#platform/kernel/config/load-config.ts';
import { z } from 'zod';
import { defineSettings, integerSetting } from '#platform/kernel/config/settings.ts';

/**
 * Live updates over WebSocket (`/realtime`): how many sockets an app and each of its users may
 * hold, how dead ones are found.
 */
export const realtimeSettings = defineSettings('realtime', {
  schema: z.object({
    REALTIME_MAX_CONNECTIONS_PER_APP: integerSetting(1000, 1, 1_000_000).describe(
      'Most live-update sockets one app may hold open on one node; more are closed with code 4429',
    ),
    REALTIME_MAX_CONNECTIONS_PER_USER: integerSetting(5, 1, 1000).describe(
      "Most live-update sockets one user may hold open in one app on one node; a newer one closes that user's oldest with code 4409",
    ),
    REALTIME_PING_INTERVAL_MS: integerSetting(30_000, 100, 600_000).describe(
      'How often each live-update socket is pinged; one that missed the previous ping is dropped',
    ),
  }),
  resolve: (values) => ({
    maxConnectionsPerApp: values.REALTIME_MAX_CONNECTIONS_PER_APP,
    maxConnectionsPerUser: values.REALTIME_MAX_CONNECTIONS_PER_USER,
    pingIntervalMs: values.REALTIME_PING_INTERVAL_MS,
  }),
});

declare module '#platform/kernel/config/load-config.ts' {
  interface ModuleConfig {
    readonly realtime: SettingsOf<typeof realtimeSettings>;
  }
}
