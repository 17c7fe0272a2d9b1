// Baseline: Socket.IO 4 (in-memory adapter), WebSocket transport.
//   connect ?kind=fan        a subscriber; POST /publish {body} → io.emit('m', body)
//   connect ?kind=dm&id=&to= 1:1 relay: 'm' events go to room `to` (every socket of that user)
import http from 'node:http';
import { Server } from 'socket.io';

const server = http.createServer((req, res) => {
  if (req.method === 'POST' && req.url === '/publish') {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      io.emit('m', Buffer.concat(chunks).toString('utf8'));
      res.writeHead(202, { 'content-type': 'application/json' }).end('{}');
    });
  } else if (!req.url?.startsWith('/socket.io')) res.writeHead(404).end();
});
const io = new Server(server, { transports: ['websocket'], serveClient: false });
io.on('connection', (socket) => {
  const q = socket.handshake.query;
  if (q.kind === 'dm') {
    void socket.join(String(q.id));
    const to = String(q.to);
    socket.on('m', (data: string) => io.to(to).emit('m', data));
  }
});

server.listen(0, '127.0.0.1', () => {
  const a = server.address() as { port: number };
  console.log(JSON.stringify({ port: a.port }));
});
