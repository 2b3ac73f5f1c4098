import type { SettingsOf } from '#platform/kernel/config/load-config.ts';
import { z } from 'zod';
import { defineSettings, integerSetting } from '#platform/kernel/config/settings.ts';

/** Metered sessions (calls billed by the second from heartbeats). */
export const meteringSettings = defineSettings('metering', {
  schema: z.object({
    METERING_HEARTBEAT_GAP_SECONDS: integerSetting(10, 2, 300).describe(
      'A session ends when no heartbeat arrived for this long (browsers beat every 5 s)',
    ),
    METERING_FLUSH_SECONDS: integerSetting(30, 1, 300).describe(
      'How often metered time is written to the database and debited, at most',
    ),
    METERING_WARNING_SECONDS: integerSetting(60, 5, 3600).describe(
      'Warn the user this long before their balance runs out',
    ),
  }),
  resolve: (values) => ({
    gapSeconds: values.METERING_HEARTBEAT_GAP_SECONDS,
    flushSeconds: values.METERING_FLUSH_SECONDS,
    warningSeconds: values.METERING_WARNING_SECONDS,
  }),
});

declare module '#platform/kernel/config/load-config.ts' {
  interface ModuleConfig {
    readonly metering: SettingsOf<typeof meteringSettings>;
  }
}
