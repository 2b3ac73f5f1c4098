import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { auditAnswer, auditCsvAnswer, auditFacetsAnswer, auditQuery } from '@ballast/contracts/audit';
import { auditCsv, type AuditTrail } from './audit.ts';

const adminAccess = { access: ['platform:admin'] as readonly string[] };

/** The audit trail for platform admins: `/api/audit` (JSON) and `/api/audit.csv`. */
export async function auditRoutes(server: FastifyInstance, options: { readonly trail: AuditTrail }): Promise<void> {
  const app = server.withTypeProvider<ZodTypeProvider>();
  app.get(
    '/api/audit',
    {
      config: adminAccess,
      schema: {
        tags: ['audit'],
        summary: 'The audit trail, filtered',
        querystring: auditQuery,
        response: { 200: auditAnswer },
      },
    },
    async (request) => ({ events: await options.trail.list(request.query) }),
  );
  app.get(
    '/api/audit/facets',
    {
      config: adminAccess,
      schema: {
        tags: ['audit'],
        summary: 'What the trail can be filtered by: its actions and its actors',
        response: { 200: auditFacetsAnswer },
      },
    },
    async () => options.trail.facets(),
  );
  app.get(
    '/api/audit.csv',
    {
      config: adminAccess,
      schema: {
        tags: ['audit'],
        summary: 'The audit trail as CSV',
        querystring: auditQuery,
        response: { 200: auditCsvAnswer },
      },
    },
    async (request, reply) =>
      reply
        .type('text/csv; charset=utf-8')
        .header('content-disposition', `attachment; filename="audit-${new Date().toISOString().slice(0, 10)}.csv"`)
        .send(auditCsv(await options.trail.list({ ...request.query, limit: request.query.limit ?? 10_000 }))),
  );
}
