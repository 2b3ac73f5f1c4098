/**
 * @ballast/platform: the SDK apps build on. Apps import only this entry; the CLI and tools use
 * `@ballast/platform/host`, tests `@ballast/platform/testing`.
 */
export {
  defineApp,
  type AppContext,
  type AppDefinition,
  type AppOptions,
  type AppRole,
  type AppStatus,
  type AppTransaction,
  type Router,
} from './kernel/lifecycle/define-app.ts';
export type { AppPorts } from './kernel/lifecycle/module.ts';
export {
  booleanSetting,
  defineSettings,
  integerSetting,
  listSetting,
  type Environment,
  type SettingsModule,
} from './kernel/config/settings.ts';
export { AppError, isAppError, type ErrorKind, type FieldError, type StartupProblem } from './kernel/errors/errors.ts';
export { constantTimeEqual } from './kernel/security/crypto.ts';
export type { EmptyDB, TableMap, Tx } from './kernel/db/database.ts';
export { rateLimit, noRateLimit, type RateLimitPolicy } from './kernel/http/rate-limit.ts';
export type { Access, RequestUser } from './kernel/http/request-context.ts';
export type { Logger } from './kernel/logging/logger.ts';
export {
  defineSchedule,
  defineTask,
  type ScheduleDefinition,
  type TaskContext,
  type TaskDefinition,
  type TaskRun,
} from './kernel/lifecycle/define-task.ts';
export {
  channels,
  defineNotification,
  type Channel,
  type NotificationDefinition,
  type RenderedNotification,
} from './kernel/lifecycle/define-notification.ts';
export {
  CancelledCallError,
  ExternalTimeoutError,
  PermanentExternalError,
  TransientExternalError,
  retryAfterMs,
  type CallOptions,
  type ExternalService,
} from './kernel/resilience/external-service.ts';
export { sql, type Kysely, type Selectable, type Insertable, type Updateable, type Generated } from 'kysely';
export { z } from 'zod';

// The ports apps receive (`ctx.<module>`), and the types they speak.
export type { AiPort } from './modules/ai/ai.module.ts';
export type { AiAnswer, AiChoice, AiStream } from './modules/ai/ai.service.ts';
export { aiProviderNames, aiProviderSetting, type AiProviderName } from './modules/ai/ai.settings.ts';
export { LOCAL_MODE_LABEL } from './modules/ai/providers/local.ts';
export type { AiDocument, AiMessage, AiRequest, AiUsage } from './modules/ai/providers/provider.ts';
export type { AuditPort } from './modules/audit/audit.module.ts';
export type { AuditEntry } from './modules/audit/audit.ts';
export { PLATFORM_ADMIN } from './modules/auth/auth.service.ts';
export type { DirectoryPort } from './modules/directory/directory.module.ts';
export type { DirectoryUser } from './modules/directory/directory.service.ts';
export type { MeteringPort } from './modules/metering/metering.module.ts';
export {
  endReasons,
  type EndReason,
  type HeartbeatAnswer,
  type MeteredSession,
} from './modules/metering/metering.service.ts';
export type { AppNotification, NotifyPort } from './modules/notify/notify.module.ts';
export type { Recipient } from './modules/notify/notifier.ts';
export type { AdminUserSection, PaymentsPort } from './modules/payments/payments.module.ts';
export type { Pack, PaymentCatalog, Purchase } from './modules/payments/payments.service.ts';
export type { RealtimePort, RealtimeRequest } from './modules/realtime/realtime.module.ts';
export type { AppEnqueueOptions, TasksPort } from './modules/tasks/tasks.module.ts';
