// What the server logs about traffic, over real sockets: one line per HTTP request with its status and
// time (never its query string, where EventSource clients carry tokens), one line per connection
// opening and closing with the reason, and --log-level choosing what is written.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { waitFor } from './support/cluster.ts';
import { cleanEnv, command, runCli, startFlashhub, tempDir, waitForLog, type RunningFlashhub } from './support/flashhub.ts';
import { freePort } from './support/redis.ts';
import { openSse } from './support/sse.ts';
import { connectWs } from './support/ws.ts';

const password = 'secret-password';

describe('request and connection logs', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let server: RunningFlashhub;

  before(async () => {
    dir = await tempDir();
    server = await startFlashhub(['--data', dir.path]);
  });
  after(async () => {
    await server.stop();
    await dir.remove();
  });

  test('each request: method, path without the query, status, milliseconds, address', async () => {
    const secret = 'query-secret-0123456789';
    const response = await fetch(`${server.url}/notify/sse?token=${secret}`);
    assert.equal(response.status, 401);
    await response.text();
    const line = await waitForLog(server, (l) => l.event === 'http.request' && l.path === '/notify/sse');
    assert.equal(line.level, 'info');
    assert.equal(line.method, 'GET');
    assert.equal(line.status, 401);
    assert.equal(typeof line.ms, 'number');
    assert.ok((line.ms as number) >= 0);
    assert.equal(line.address, '127.0.0.1');
    assert.ok(!server.logs.some((l) => JSON.stringify(l).includes(secret)), 'the query string is not logged');

    await (await fetch(`${server.url}/dm/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{' })).text();
    const refused = await waitForLog(server, (l) => l.event === 'http.request' && l.path === '/dm/register');
    assert.equal(refused.method, 'POST');
    assert.equal(refused.status, 422, "dm answers malformed JSON 422, as seed 004");
  });

  test('health probes are logged at debug only', async () => {
    await (await fetch(`${server.url}/healthz`)).text();
    await (await fetch(`${server.url}/not-there`)).text();
    await waitForLog(server, (l) => l.event === 'http.request' && l.path === '/not-there');
    assert.ok(!server.logs.some((l) => l.event === 'http.request' && l.path === '/healthz'));
  });

  test('a WebSocket: one line when it opens, one when it closes, with the user and why', async () => {
    const response = await fetch(`${server.url}/dm/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'Ann', username: 'ann', password }) });
    const token = ((await response.json()) as { content: { token: string } }).content.token;
    const socket = await connectWs(`${server.url.replace('http', 'ws')}/dm/chats/ann`, { headers: { authorization: `Bearer ${token}` } });
    const opened = await waitForLog(server, (l) => l.event === 'connection.open' && l.hub === 'dm');
    assert.equal(opened.transport, 'ws');
    assert.equal(typeof opened.session, 'string');
    assert.equal(opened.address, '127.0.0.1');
    socket.close();
    const closed = await waitForLog(server, (l) => l.event === 'connection.close' && l.session === opened.session);
    assert.equal(closed.hub, 'dm');
    assert.equal(closed.reason, 'clientGone');
    assert.equal(closed.code, 1000);
    assert.equal(typeof closed.user, 'number', 'the close line names the user');
    assert.equal(typeof closed.seconds, 'number');
    assert.equal(server.logs.filter((l) => l.session === opened.session).length, 2, 'exactly two lines for the connection');
  });

  test('an EventSource stream: opened and closed, and a server-side close says why', async () => {
    assert.equal((await runCli(['user', 'add', 'bea', '--password-stdin', '--data', dir.path], { input: password + '\n' })).code, 0);
    const token = (await runCli(['token', 'user', 'bea', '--kind', 'stream', '--data', dir.path])).stdout.trim();
    const stream = await openSse(`${server.url}/notify/sse?token=${token}`);
    assert.equal(stream.status, 200);
    const opened = await waitForLog(server, (l) => l.event === 'connection.open' && l.hub === 'notify');
    assert.equal(opened.transport, 'sse');
    // Removing the user closes their streams: the reason is the server's.
    assert.equal((await runCli(['user', 'remove', 'bea', '--data', dir.path])).code, 0);
    const closed = await waitForLog(server, (l) => l.event === 'connection.close' && l.session === opened.session);
    assert.equal(closed.reason, 'userRemoved');
    assert.equal(closed.transport, 'sse');
    assert.equal(closed.code, undefined, 'EventSource streams have no close code');
    assert.ok(!JSON.stringify(server.logs).includes(token), 'the stream token is not logged');
    stream.close();
  });
});

describe('--log-level', () => {
  test('debug also writes health probes; the default (info) does not', async () => {
    const dir = await tempDir();
    const server = await startFlashhub(['--data', dir.path, '--log-level', 'debug']);
    try {
      await (await fetch(`${server.url}/readyz`)).text();
      const line = await waitForLog(server, (l) => l.event === 'http.request' && l.path === '/readyz');
      assert.equal(line.level, 'debug');
    } finally {
      await server.stop();
      await dir.remove();
    }
  });

  test('warn writes neither requests nor connections (nor the info lines of the start)', async () => {
    const dir = await tempDir();
    const port = await freePort();
    const [file, ...prefix] = command as [string, ...string[]];
    const child = spawn(file, [...prefix, 'serve', '--port', String(port), '--host', '127.0.0.1', '--data', dir.path, '--log-level', 'warn'], {
      env: cleanEnv({ FLASHHUB_LOG_FORMAT: 'json' }),
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const exited = new Promise((resolve) => child.on('exit', resolve));
    try {
      const base = `http://127.0.0.1:${port}`;
      await waitFor('the server answers', async () => (await fetch(`${base}/readyz`).catch(() => undefined))?.status === 200, 20_000);
      await (await fetch(`${base}/not-there`)).text();
      const socket = await connectWs(`ws://127.0.0.1:${port}/presence/ws`);
      socket.close();
      await socket.closed;
    } finally {
      child.kill('SIGTERM');
      await exited;
      await dir.remove();
    }
    const lines = stderr.split('\n').filter((line) => line !== '').map((line) => JSON.parse(line) as { level: string; event: string });
    assert.deepEqual(lines.filter((line) => line.level === 'info' || line.level === 'debug'), []);
  });
});

