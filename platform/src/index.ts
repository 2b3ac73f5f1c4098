/**
 * @ballast/platform: the production core the apps build on. Apps import only this entry.
 */
export {
  defineApp,
  type AppContext,
  type AppDefinition,
  type AppStatus,
  type Router,
} from './kernel/lifecycle/define-app.ts';
export {
  booleanSetting,
  defineSettings,
  integerSetting,
  listSetting,
  type Environment,
  type SettingsModule,
} from './kernel/config/settings.ts';
export { loadConfig, type Config } from './kernel/config/load-config.ts';
export {
  AppError,
  StartupError,
  isAppError,
  type ErrorKind,
  type FieldError,
  type StartupProblem,
} from './kernel/errors/errors.ts';
export { constantTimeEqual } from './kernel/security/crypto.ts';
export type { AnyKysely, Database } from './kernel/db/database.ts';
export { rateLimit, noRateLimit, type RateLimitPolicy } from './kernel/http/rate-limit.ts';
export type { RequestUser } from './kernel/http/request-context.ts';
export type { Logger } from './kernel/logging/logger.ts';
export { createBallast, type Ballast, type CreateBallastOptions, type Role } from './kernel/lifecycle/ballast.ts';
export type {
  Realtime,
  RealtimeAuthenticator,
  RealtimeHooks,
  RealtimeIdentity,
  RealtimeMessage,
  TopicAuthorizer,
} from './modules/realtime/realtime-hub.ts';
export { issueRealtimeTicket, verifyRealtimeTicket, type RealtimeTicket } from './modules/realtime/ticket.ts';
export {
  defineSchedule,
  defineTask,
  type ScheduleDefinition,
  type TaskContext,
  type TaskDefinition,
} from './modules/tasks/define-task.ts';
export { formatDoctorReport, runDoctor, type DoctorCheck, type DoctorReport } from './modules/health/doctor.ts';
export { migrateToLatest, findPendingMigrations, type MigrationSet } from './kernel/db/migrations.ts';
export { openDatabase } from './kernel/db/database.ts';
export { createLogger, shouldPrettyPrint } from './kernel/logging/logger.ts';
export { migrationSetsFor, appSettingsModules } from './kernel/lifecycle/ballast.ts';
export {
  sql,
  type Kysely,
  type Transaction,
  type Selectable,
  type Insertable,
  type Updateable,
  type Generated,
} from 'kysely';
export { z } from 'zod';
export {
  channels,
  defineNotification,
  type Channel,
  type NotificationDefinition,
  type RenderedNotification,
} from './modules/notify/define-notification.ts';
export type { InAppNotification, Notifier, Recipient, SendNotification } from './modules/notify/notifier.ts';
export type { EmailMessage, EmailSender } from './modules/notify/providers/email.ts';
export type { SmsMessage, SmsSender } from './modules/notify/providers/sms.ts';
export {
  PermanentExternalError,
  createExternalService,
  type CallOptions,
  type ExternalService,
  type ExternalServiceOptions,
} from './kernel/resilience/external-service.ts';
export type {
  DeadLetter,
  EnqueueOptions,
  QueueStats,
  TaskEngine,
  ThroughputPoint,
} from './modules/tasks/task-engine.ts';
export { newSigningJwk, rotateDevKey } from './modules/auth/signing-keys.ts';
export { PLATFORM_ADMIN, type AuthService, type PublicUser, type RoleDefinition } from './modules/auth/auth.service.ts';
export type { Access } from './kernel/http/request-context.ts';
export type { AppRole } from './kernel/lifecycle/define-app.ts';
export { recordAudit, type AuditEntry } from './modules/audit/audit.ts';
export type { Pack, PaymentCatalog, Purchase, PaymentsService } from './modules/payments/payments.service.ts';
export {
  applyLedgerChange,
  debitUpTo,
  balanceOf,
  type LedgerChange,
  type LedgerResult,
} from './modules/payments/ledger.ts';
export type { Metering, MeteredSession, HeartbeatAnswer, EndReason } from './modules/metering/metering.service.ts';
export { endReasons } from './modules/metering/metering.service.ts';
