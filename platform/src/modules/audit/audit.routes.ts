import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { auditCsv, type AuditTrail } from './audit.ts';

const adminAccess = { access: ['platform:admin'] as readonly string[] };

const auditQuery = z.object({
  actor: z.string().max(200).optional(),
  action: z.string().max(100).optional(),
  from: z.coerce.date().optional(),
  to: z.coerce.date().optional(),
  limit: z.coerce.number().int().min(1).max(10_000).optional(),
});

/** The audit trail for platform admins: `/api/audit` (JSON) and `/api/audit.csv`. */
export async function auditRoutes(server: FastifyInstance, options: { readonly trail: AuditTrail }): Promise<void> {
  const app = server.withTypeProvider<ZodTypeProvider>();
  app.get(
    '/api/audit',
    { config: adminAccess, schema: { tags: ['audit'], summary: 'The audit trail, filtered', querystring: auditQuery } },
    async (request) => ({ events: await options.trail.list(request.query) }),
  );
  app.get(
    '/api/audit.csv',
    { config: adminAccess, schema: { tags: ['audit'], summary: 'The audit trail as CSV', querystring: auditQuery } },
    async (request, reply) =>
      reply
        .type('text/csv; charset=utf-8')
        .header('content-disposition', `attachment; filename="audit-${new Date().toISOString().slice(0, 10)}.csv"`)
        .send(auditCsv(await options.trail.list({ ...request.query, limit: request.query.limit ?? 10_000 }))),
  );
}
