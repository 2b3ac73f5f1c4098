/**
 * @ballast/platform: the production core the apps build on. Apps import only this entry.
 */
export { defineApp, type AppContext, type AppDefinition, type AppStatus, type Router } from './apps/define-app.ts';
export {
  booleanSetting,
  defineSettings,
  integerSetting,
  listSetting,
  type Environment,
  type SettingsModule,
} from './config/settings.ts';
export { loadConfig, type Config } from './config/load-config.ts';
export {
  AppError,
  StartupError,
  isAppError,
  type ErrorKind,
  type FieldError,
  type StartupProblem,
} from './core/errors.ts';
export { constantTimeEqual } from './core/crypto.ts';
export type { AnyKysely, Database } from './db/database.ts';
export { rateLimit, noRateLimit, type RateLimitPolicy } from './http/rate-limit.ts';
export type { RequestUser } from './http/request-context.ts';
export type { Logger } from './logging/logger.ts';
export { createBallast, type Ballast, type CreateBallastOptions, type Role } from './runtime/ballast.ts';
export type {
  Realtime,
  RealtimeAuthenticator,
  RealtimeHooks,
  RealtimeIdentity,
  RealtimeMessage,
  TopicAuthorizer,
} from './realtime/realtime-hub.ts';
export { issueRealtimeTicket, verifyRealtimeTicket, type RealtimeTicket } from './realtime/ticket.ts';
export {
  defineSchedule,
  defineTask,
  type ScheduleDefinition,
  type TaskContext,
  type TaskDefinition,
} from './tasks/define-task.ts';
export { formatDoctorReport, runDoctor, type DoctorCheck, type DoctorReport } from './health/doctor.ts';
export { migrateToLatest, findPendingMigrations, type MigrationSet } from './db/migrations.ts';
export { openDatabase } from './db/database.ts';
export { createLogger } from './logging/logger.ts';
export { migrationSetsFor, appSettingsModules } from './runtime/ballast.ts';
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
} from './notify/define-notification.ts';
export type { InAppNotification, Notifier, Recipient, SendNotification } from './notify/notifier.ts';
export type { EmailMessage, EmailSender } from './notify/providers/email.ts';
export type { SmsMessage, SmsSender } from './notify/providers/sms.ts';
export {
  PermanentExternalError,
  createExternalService,
  type CallOptions,
  type ExternalService,
  type ExternalServiceOptions,
} from './resilience/external-service.ts';
export type { DeadLetter, EnqueueOptions, QueueStats, TaskEngine, ThroughputPoint } from './tasks/task-engine.ts';
export { newSigningJwk, rotateDevKey } from './auth/signing-keys.ts';
export { PLATFORM_ADMIN, type AuthService, type PublicUser, type RoleDefinition } from './auth/auth.service.ts';
export type { Access } from './http/request-context.ts';
export type { AppRole } from './apps/define-app.ts';
export { recordAudit, type AuditEntry } from './audit/audit.ts';
export type { Pack, PaymentCatalog, Purchase, PaymentsService } from './payments/payments.service.ts';
export { applyLedgerChange, debitUpTo, balanceOf, type LedgerChange, type LedgerResult } from './payments/ledger.ts';
export type { Metering, MeteredSession, HeartbeatAnswer, EndReason } from './metering/metering.service.ts';
export { endReasons } from './metering/metering.service.ts';
