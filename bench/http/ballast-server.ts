// (a) Ballast's full stack: security headers, CORS, request id, JSON logs, rate limit, zod
// validation, the error handler, metrics. Logs go to stdout (discarded by the harness), as in
// production where they are shipped elsewhere.
import { defineApp, rateLimit, z } from '@ballast/platform';
import { serve } from '../../cli/src/serve.ts';

const benchApp = defineApp({
  name: 'bench',
  title: 'Bench',
  summary: 'The benchmark route.',
  status: 'available',
  defaultAccess: 'public',
  routes: async (router) => {
    router.get(
      '/hello',
      {
        config: rateLimit({ name: 'bench', max: 100_000_000, windowMs: 60_000, by: 'ip' }),
        schema: {
          querystring: z.object({ name: z.string().min(1).max(50) }),
          response: { 200: z.object({ hello: z.string(), length: z.number() }) },
        },
      },
      async (request) => ({ hello: request.query.name, length: request.query.name.length }),
    );
  },
});

process.exitCode = await serve(['web'], process.env, [benchApp]);
