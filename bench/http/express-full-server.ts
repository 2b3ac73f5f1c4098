// (c2) Express 5 with the features Ballast's stack has, as a team would assemble them: helmet
// security headers, cors with an explicit origin, a request id on every answer and log line,
// pino-http access logs to an asynchronous destination, express-rate-limit (draft-8 headers,
// in memory), a prom-client latency histogram, and zod on the query and on the answer.
import { randomUUID } from 'node:crypto';
import cors from 'cors';
import express, { type NextFunction, type Request, type Response } from 'express';
import { rateLimit } from 'express-rate-limit';
import helmet from 'helmet';
import pino from 'pino';
import { pinoHttp } from 'pino-http';
import client from 'prom-client';
import { z } from 'zod';

const registry = new client.Registry();
const duration = new client.Histogram({
  name: 'http_request_duration_seconds',
  help: 'HTTP request latency by route and status',
  labelNames: ['method', 'route', 'status_code'] as const,
  buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  registers: [registry],
});

const query = z.object({ name: z.string().min(1).max(50) });
const answer = z.object({ hello: z.string(), length: z.number() });

const app = express();
app.disable('x-powered-by');
app.use((request: Request, response: Response, next: NextFunction) => {
  const id = randomUUID();
  response.setHeader('x-request-id', id);
  (request as Request & { id: string }).id = id;
  const end = duration.startTimer({ method: request.method });
  response.on('finish', () => end({ route: request.route?.path ?? 'unknown', status_code: response.statusCode }));
  next();
});
app.use(
  pinoHttp({
    logger: pino(pino.destination({ dest: 1, sync: false })),
    genReqId: (request) => (request as Request & { id: string }).id,
  }),
);
app.use(helmet());
app.use(cors({ origin: ['http://localhost:3000'], credentials: true }));
app.use(rateLimit({ windowMs: 60_000, limit: 100_000_000, standardHeaders: 'draft-8', legacyHeaders: false }));

app.get('/api/bench/hello', (request, response) => {
  const parsed = query.safeParse(request.query);
  if (!parsed.success) {
    response
      .status(400)
      .type('application/problem+json')
      .json({
        title: 'Invalid input',
        status: 400,
        errors: parsed.error.issues.map((issue) => ({ field: issue.path.join('.'), message: issue.message })),
      });
    return;
  }
  response.json(answer.parse({ hello: parsed.data.name, length: parsed.data.name.length }));
});
app.get('/healthz', (_request, response) => {
  response.json({ status: 'ok' });
});
const server = app.listen(Number(process.env['PORT']), '127.0.0.1');
process.on('SIGTERM', () => server.close(() => process.exit(0)));
