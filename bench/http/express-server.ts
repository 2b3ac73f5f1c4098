// (c) Express 5 with helmet and cors: the common Node baseline, same route, hand validation.
import cors from 'cors';
import express from 'express';
import helmet from 'helmet';

const app = express();
app.use(helmet());
app.use(cors({ origin: ['http://localhost:3000'], credentials: true }));
app.get('/api/bench/hello', (request, response) => {
  const name = request.query['name'];
  if (typeof name !== 'string' || name.length < 1 || name.length > 50) {
    response.status(400).json({ error: 'name must be 1-50 characters' });
    return;
  }
  response.json({ hello: name, length: name.length });
});
app.get('/healthz', (_request, response) => {
  response.json({ status: 'ok' });
});
const server = app.listen(Number(process.env['PORT']), '127.0.0.1');
process.on('SIGTERM', () => server.close(() => process.exit(0)));
