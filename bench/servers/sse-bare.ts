// Baseline: Server-Sent Events on bare node:http, one `res.write` per client.
//   GET /stream              a subscriber; POST /publish {body} → res.write(`data: body\n\n`) to each
import http from 'node:http';

const streams = new Set<http.ServerResponse>();

const server = http.createServer((req, res) => {
  if (req.method === 'GET' && req.url?.startsWith('/stream')) {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    res.write(': ok\n\n');
    streams.add(res);
    req.on('close', () => streams.delete(res));
  } else if (req.method === 'POST' && req.url === '/publish') {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      for (const s of streams) s.write(`data: ${body}\n\n`);
      res.writeHead(202, { 'content-type': 'application/json' }).end(`{"recipients":${streams.size}}`);
    });
  } else res.writeHead(404).end();
});
server.keepAliveTimeout = 0;
server.requestTimeout = 0;
server.headersTimeout = 0;

server.listen(0, '127.0.0.1', () => {
  const a = server.address() as { port: number };
  console.log(JSON.stringify({ port: a.port }));
});
