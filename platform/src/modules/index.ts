import type { AnyModule } from '#platform/kernel/lifecycle/module.ts';
import { aiModule } from './ai/ai.module.ts';
import { auditModule } from './audit/audit.module.ts';
import { authModule } from './auth/auth.module.ts';
import { documentsModule } from './documents/documents.module.ts';
import { directoryModule } from './directory/directory.module.ts';
import { healthModule } from './health/health.module.ts';
import { meteringModule } from './metering/metering.module.ts';
import { notifyModule } from './notify/notify.module.ts';
import { paymentsModule } from './payments/payments.module.ts';
import { realtimeModule } from './realtime/realtime.module.ts';
import { storageModule } from './storage/storage.module.ts';
import { tasksModule } from './tasks/tasks.module.ts';

/**
 * Every capability of the platform. The loader orders them by `dependsOn`; a new capability is a
 * folder under `modules/` and one line here.
 */
export const platformModules: readonly AnyModule[] = [
  tasksModule,
  realtimeModule,
  auditModule,
  notifyModule,
  authModule,
  directoryModule,
  paymentsModule,
  meteringModule,
  storageModule,
  documentsModule,
  aiModule,
  healthModule,
];
