// The server over real sockets: health endpoints, JSON errors, listeners, the store lock, shutdown.
import assert from 'node:assert/strict';
import { stat } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runCli, startFlashhub, tempDir, type RunningFlashhub } from './support/flashhub.ts';

describe('server', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let server: RunningFlashhub;

  before(async () => {
    dir = await tempDir();
    server = await startFlashhub(['--data', path.join(dir.path, 'data'), '--listen', '127.0.0.1:0']);
  });
  after(async () => {
    await server.stop();
    await dir.remove();
  });

  test('GET /healthz and /readyz', async () => {
    const health = await fetch(`${server.url}/healthz`);
    assert.equal(health.status, 200);
    assert.deepEqual(await health.json(), { status: 'ok' });
    const ready = await fetch(`${server.url}/readyz`);
    assert.equal(ready.status, 200);
    assert.deepEqual(await ready.json(), { status: 'ready' });
  });

  test("GET / answers seed 000's healthcheck! in plain text", async () => {
    const response = await fetch(`${server.url}/`);
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^text\/plain/);
    assert.equal(await response.text(), 'healthcheck!');
  });

  test('unknown paths get a JSON 404', async () => {
    for (const method of ['GET', 'POST', 'DELETE']) {
      const response = await fetch(`${server.url}/no/such/path`, { method });
      assert.equal(response.status, 404);
      assert.deepEqual(await response.json(), { error: 'Not Found' });
    }
  });

  test('bodies over the limit get 413, not a crash', async () => {
    const response = await fetch(`${server.url}/anything`, { method: 'POST', body: 'x'.repeat((1 << 20) + 1) });
    assert.equal(response.status, 413);
    assert.match(((await response.json()) as { error: string }).error, /larger than 1048576 bytes/);
    assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
  });

  test('a WebSocket upgrade to an unknown path gets a plain 404 and is closed', async () => {
    const answer = await rawRequest(server.port, 'GET /nowhere HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n');
    assert.match(answer, /^HTTP\/1\.1 404 Not Found\r\n/);
    assert.match(answer, /\{"error":"Not Found"\}$/);
  });

  test('malformed HTTP gets 400 and the server stays up', async () => {
    const answer = await rawRequest(server.port, 'BLAH\r\n\r\n');
    assert.match(answer, /^HTTP\/1\.1 400/);
    assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
  });

  test('every --listen address serves the same app', async () => {
    const started = server.logs.find((line) => line.event === 'server.started') as { listening: string[] };
    assert.equal(started.listening.length, 2);
    const second = started.listening[1]!;
    const response = await fetch(`http://${second}/`);
    assert.equal(await response.text(), 'healthcheck!');
  });

  test('the data directory is private to its owner', async () => {
    const mode = (await stat(path.join(dir.path, 'data'))).mode & 0o777;
    assert.equal(mode, 0o700);
  });

  test('a second server on the same data directory is refused with a clear message', async () => {
    const second = await runCli(['serve', '--port', '0', '--host', '127.0.0.1', '--data', path.join(dir.path, 'data')]);
    assert.equal(second.code, 1);
    assert.match(second.stderr, /in use by flashhub process \d+/);
    assert.equal((await fetch(`${server.url}/healthz`)).status, 200, 'the first server is unharmed');
  });

  test('structured logs: one JSON object per line, no secrets', () => {
    assert.ok(server.logs.length > 0);
    assert.ok(server.logs.every((line) => line.event !== 'unparsed'), JSON.stringify(server.logs));
  });
});

describe('shutdown', () => {
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    test(`${signal} stops accepting, closes open connections and exits 0`, async () => {
      const dir = await tempDir();
      const server = await startFlashhub(['--data', dir.path]);
      try {
        const agent = new http.Agent({ keepAlive: true });
        const kept = await new Promise<number>((resolve, reject) =>
          http.get(`${server.url}/healthz`, { agent }, (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
          }).on('error', reject),
        );
        assert.equal(kept, 200);
        const started = Date.now();
        assert.equal(await server.stop(signal), 0);
        assert.ok(Date.now() - started < 5000, 'exits within the shutdown timeout');
        assert.ok(server.logs.some((line) => line.event === 'server.stopped'));
        await assert.rejects(fetch(`${server.url}/healthz`));
        agent.destroy();
      } finally {
        await dir.remove();
      }
    });
  }

  test('the data directory can be served again after a shutdown', async () => {
    const dir = await tempDir();
    try {
      const first = await startFlashhub(['--data', dir.path]);
      assert.equal(await first.stop(), 0);
      const second = await startFlashhub(['--data', dir.path]);
      assert.equal((await fetch(`${second.url}/healthz`)).status, 200);
      assert.equal(await second.stop(), 0);
    } finally {
      await dir.remove();
    }
  });

  test('after kill -9 the stale lock is taken over', async () => {
    const dir = await tempDir();
    try {
      const first = await startFlashhub(['--data', dir.path]);
      await first.stop('SIGKILL');
      const second = await startFlashhub(['--data', dir.path]);
      assert.equal((await fetch(`${second.url}/healthz`)).status, 200);
      assert.equal(await second.stop(), 0);
    } finally {
      await dir.remove();
    }
  });
});

describe('start-up errors', () => {
  test('a wrong setting stops start-up with a message naming it', async () => {
    const result = await runCli(['serve'], { env: { FLASHHUB_PORT: 'eighty' } });
    assert.equal(result.code, 2);
    assert.match(result.stderr, /port \(from environment FLASHHUB_PORT\): must be a whole number/);
  });

  test('a published default secret is refused', async () => {
    const result = await runCli(['serve'], { env: { JWT_KEY: 'y0ur-jwt-Encrypt!on-k3y' } });
    assert.equal(result.code, 2);
    assert.match(result.stderr, /jwt_secret \(from environment JWT_KEY\): is a published default secret/);
  });

  test('a port in use is reported', async () => {
    const dir = await tempDir();
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as net.AddressInfo).port;
    try {
      const result = await runCli(['serve', '--host', '127.0.0.1', '--port', String(port), '--data', dir.path]);
      assert.equal(result.code, 1);
      assert.match(result.stderr, new RegExp(`address 127\\.0\\.0\\.1:${port} is already in use`));
    } finally {
      blocker.close();
      await dir.remove();
    }
  });
});

function rawRequest(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(text));
    let answer = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk) => (answer += chunk));
    socket.on('end', () => resolve(answer));
    socket.on('error', reject);
    socket.setTimeout(5000, () => socket.destroy(new Error('no answer')));
  });
}
