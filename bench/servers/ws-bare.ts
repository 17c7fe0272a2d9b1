// Baseline: the `ws` library as people use it, one `send` per client, on a bare node:http server.
//   WebSocket /fan           a subscriber; POST /publish {body} → ws.send(body) to every subscriber
//   WebSocket /dm?id=&to=    1:1 relay: each text frame goes to every socket of user `to`
//   POST /notify             JSON.parse the body, answer 202 (the bare notify handler)
import http from 'node:http';
import { WebSocketServer, type WebSocket } from 'ws';

const subscribers = new Set<WebSocket>();
const users = new Map<string, Set<WebSocket>>();
const wss = new WebSocketServer({ noServer: true });

function readBody(req: http.IncomingMessage, done: (body: string) => void): void {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => done(Buffer.concat(chunks).toString('utf8')));
}

const server = http.createServer((req, res) => {
  if (req.method === 'POST' && req.url === '/publish') {
    readBody(req, (body) => {
      for (const ws of subscribers) ws.send(body);
      res.writeHead(202, { 'content-type': 'application/json' }).end(`{"recipients":${subscribers.size}}`);
    });
  } else if (req.method === 'POST' && req.url === '/notify') {
    readBody(req, (body) => {
      try {
        const v = JSON.parse(body) as { users?: unknown[] };
        res.writeHead(202, { 'content-type': 'application/json' }).end(`{"recipients":${v.users?.length ?? 0}}`);
      } catch {
        res.writeHead(400).end('{"error":"bad json"}');
      }
    });
  } else res.writeHead(404).end();
});

server.on('upgrade', (req, socket, head) => {
  const url = new URL(req.url ?? '/', 'http://x');
  wss.handleUpgrade(req, socket, head, (ws) => {
    if (url.pathname === '/fan') {
      subscribers.add(ws);
      ws.on('close', () => subscribers.delete(ws));
    } else if (url.pathname === '/dm') {
      const id = url.searchParams.get('id') ?? '';
      const to = url.searchParams.get('to') ?? '';
      let mine = users.get(id);
      if (!mine) users.set(id, (mine = new Set()));
      mine.add(ws);
      ws.on('message', (data, isBinary) => {
        if (isBinary) return;
        for (const peer of users.get(to) ?? []) peer.send(data.toString());
      });
      ws.on('close', () => mine.delete(ws));
    }
    ws.on('error', () => {});
  });
});

server.listen(0, '127.0.0.1', () => {
  const a = server.address() as { port: number };
  console.log(JSON.stringify({ port: a.port }));
});
