import type { Kysely } from '@ballast/platform';

/**
 * Claims the assistant schema. The migrator creates the schema and its migration table; the app's
 * tables arrive with the issue that builds the app.
 */
export async function up(_db: Kysely<unknown>): Promise<void> {}
