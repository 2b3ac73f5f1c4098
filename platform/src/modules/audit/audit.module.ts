import { assertOwnedBy } from '#platform/kernel/lifecycle/define-app.ts';
import type { Tx } from '#platform/kernel/db/database.ts';
import { defineModule } from '#platform/kernel/lifecycle/module.ts';
import { auditRoutes } from './audit.routes.ts';
import { createAuditTrail, type AuditEntry, type AuditTrail } from './audit.ts';

/**
 * The audit trail as an app sees it: it records its own actions (`<app>.*`), one entry or a batch
 * (one statement however many).
 */
export type AuditPort = (entry: AuditEntry | readonly AuditEntry[], options?: { readonly tx?: Tx }) => Promise<void>;

declare module '#platform/kernel/lifecycle/module.ts' {
  interface PlatformServices {
    /** The append-only audit trail. */
    audit: AuditTrail;
  }
  interface AppPorts {
    /** Records one of the app's critical actions (`<app>.something`); pass `{ tx }` to tie it to the change. */
    readonly audit: AuditPort;
  }
}

/** The audit trail: append-only (a trigger refuses updates and deletes), filtered and exported by admins. */
export const auditModule = defineModule({
  name: 'audit',
  dependsOn: [],
  migrations: new URL('./migrations/', import.meta.url).pathname,
  create: (ctx) => {
    const trail = createAuditTrail(ctx.database);
    return {
      service: trail,
      routes: (server) => server.register(auditRoutes, { trail }),
      forApp: (app) => (entry, options) => {
        const entries: readonly AuditEntry[] = Array.isArray(entry) ? entry : [entry as AuditEntry];
        for (const each of entries) assertOwnedBy(app.name, 'audit actions', each.action);
        return trail.recordMany(entries, options?.tx);
      },
    };
  },
});
