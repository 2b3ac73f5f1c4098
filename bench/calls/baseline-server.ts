// The bare baseline for bench/calls: Node's http module (and a bare `ws` server at /realtime for
// heartbeats sent as socket requests) keeping each call's last heartbeat in a Map, with no
// authentication, no validation and no database. What a heartbeat costs at least.
import http from 'node:http';
import { WebSocketServer } from 'ws';

const calls = new Map<string, { started: number; last: number }>();

function beat(id: string): { status: string; meteredSeconds: number } {
  const now = Date.now();
  const call = calls.get(id) ?? { started: now, last: now };
  call.last = now;
  calls.set(id, call);
  return { status: 'active', meteredSeconds: Math.floor((now - call.started) / 1000) };
}
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
    response.setHeader('content-type', 'application/json');
    response.end(JSON.stringify(beat(match[1]!)));
  });
});
const sockets = new WebSocketServer({ server, path: '/realtime' });
sockets.on('connection', (socket) => {
  socket.on('message', (raw: Buffer) => {
    const frame = JSON.parse(raw.toString('utf8')) as { id: number; data: { sessionId: string } };
    socket.send(JSON.stringify({ type: 'reply', id: frame.id, ok: true, data: beat(frame.data.sessionId) }));
  });
});
server.listen(Number(process.env['PORT']), process.env['HOST'] ?? '127.0.0.1');
process.on('SIGTERM', () => server.close(() => process.exit(0)));
