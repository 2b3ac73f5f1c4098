/**
 * The platform's HTTP API as zod schemas: what each route accepts and answers. The server
 * validates requests and serializes answers with them (and documents them at `/docs`); pages
 * parse answers with the same schemas. Depends on zod alone, never on the platform.
 */
export { z } from 'zod';
export { messageAnswer, noContent, timestamp, type Parsed, type Wire } from './common.ts';
export * as auth from './auth.ts';
export * as payments from './payments.ts';
export * as audit from './audit.ts';
export * as health from './health.ts';
export * as tasks from './tasks.ts';
export * as storage from './storage.ts';
export * as documents from './documents.ts';
