// The bare baseline for bench/calls: Node's http module keeping each call's last heartbeat in a
// Map, with no authentication, no validation and no database. What a heartbeat costs at least.
import http from 'node:http';

const calls = new Map<string, { started: number; last: number }>();
const server = http.createServer((request, response) => {
  const match = /^\/calls\/([\w-]+)\/heartbeat$/.exec(request.url ?? '');
  if (request.url === '/healthz') {
    response.end('ok');
    return;
  }
  if (match === null || request.method !== 'POST') {
    response.statusCode = 404;
    response.end();
    return;
  }
  request.resume();
  request.on('end', () => {
    const id = match[1]!;
    const now = Date.now();
    const call = calls.get(id) ?? { started: now, last: now };
    call.last = now;
    calls.set(id, call);
    response.setHeader('content-type', 'application/json');
    response.end(JSON.stringify({ status: 'active', meteredSeconds: Math.floor((now - call.started) / 1000) }));
  });
});
server.listen(Number(process.env['PORT']), process.env['HOST'] ?? '127.0.0.1');
process.on('SIGTERM', () => server.close(() => process.exit(0)));
