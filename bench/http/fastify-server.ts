// (b) Bare Fastify: the same route with Fastify's own JSON-schema validation, nothing else.
import Fastify from 'fastify';

const app = Fastify({ logger: false });
app.get(
  '/api/bench/hello',
  {
    schema: {
      querystring: {
        type: 'object',
        required: ['name'],
        properties: { name: { type: 'string', minLength: 1, maxLength: 50 } },
      },
      response: {
        200: { type: 'object', properties: { hello: { type: 'string' }, length: { type: 'number' } } },
      },
    },
  },
  async (request) => {
    const { name } = request.query as { name: string };
    return { hello: name, length: name.length };
  },
);
app.get('/healthz', async () => ({ status: 'ok' }));
await app.listen({ host: '127.0.0.1', port: Number(process.env['PORT']) });
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
