// The server for bench/auth: Ballast's full stack with one public and one signed-in JSON route.
import { defineApp, z } from '@ballast/platform';
import { serve } from '../../cli/src/serve.ts';

const benchApp = defineApp({
  name: 'bench',
  title: 'Bench',
  summary: 'The benchmark routes.',
  status: 'available',
  routes: async (router) => {
    const schema = {
      querystring: z.object({ name: z.string().min(1).max(50) }),
      response: { 200: z.object({ hello: z.string(), length: z.number() }) },
    };
    router.get('/hello', { config: { access: 'public' }, schema }, async (request) => ({
      hello: request.query.name,
      length: request.query.name.length,
    }));
    router.get('/me/hello', { config: { access: 'user' }, schema }, async (request) => ({
      hello: request.query.name,
      length: request.query.name.length,
    }));
  },
});

process.exitCode = await serve(['web'], process.env, [benchApp]);
