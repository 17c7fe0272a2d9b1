// GET /metrics over real sockets: each figure moves when the thing it counts happens (connections,
// deliveries, messages in and out, slow consumers, failed logins and tokens, store writes, HTTP
// requests), the exposition parses as Prometheus text, metrics_token guards it, and with Redis the
// link state follows Redis going away.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import type net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { waitFor } from './support/cluster.ts';
import { startFlashhub, tempDir, type RunningFlashhub } from './support/flashhub.ts';
import { scrape } from './support/metrics.ts';
import { startRedis } from './support/redis.ts';
import { connectWs, upgrade } from './support/ws.ts';

const password = 'secret-password';

async function post(base: string, path: string, body: unknown): Promise<{ status: number; json: any }> {
  const response = await fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: response.status, json: await response.json() };
}

async function register(base: string, username: string): Promise<string> {
  const { status, json } = await post(base, '/dm/register', { name: username, username, password });
  assert.equal(status, 200, JSON.stringify(json));
  return json.content.token;
}

const bearer = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });

describe('metrics', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let server: RunningFlashhub;
  let wsUrl: string;

  before(async () => {
    dir = await tempDir();
    // Small send queues and long messages, so that a socket that does not read is dropped soon.
    server = await startFlashhub(['--data', dir.path], {
      env: { FLASHHUB_SEND_QUEUE_BYTES: '16384', FLASHHUB_MESSAGE_LENGTH: '60000', FLASHHUB_MESSAGES_PER_SECOND: '100000' },
    });
    wsUrl = server.url.replace('http', 'ws');
  });
  after(async () => {
    await server.stop();
    await dir.remove();
  });

  test('the exposition parses, with the process metrics and event-loop lag', async () => {
    const metrics = await scrape(server.url);
    const names = new Set(metrics.types.keys());
    for (const name of ['nodejs_eventloop_lag_seconds', 'nodejs_eventloop_lag_p99_seconds', 'process_cpu_seconds_total', 'process_resident_memory_bytes', 'flashhub_info', 'flashhub_ready', 'flashhub_store_writes_in_flight']) {
      assert.ok(names.has(name), `${name} is exported`);
    }
    assert.equal(metrics.types.get('flashhub_store_write_seconds'), 'histogram');
    assert.equal(metrics.types.get('flashhub_messages_in_total'), 'counter');
    assert.equal(metrics.value('flashhub_info', { store: 'file' }), 1);
    assert.equal(metrics.value('flashhub_ready'), 1);
    // No Redis, no Redis link to report.
    assert.equal(metrics.value('flashhub_redis_connected'), undefined);
  });

  test('connections, deliveries, messages in and out, store writes and requests move with the traffic', async () => {
    const [ann, bob] = [await register(server.url, 'ann'), await register(server.url, 'bob')];
    const before = await scrape(server.url);
    const annToBob = await connectWs(`${wsUrl}/chats/bob`, bearer(ann));
    const bobToAnn = await connectWs(`${wsUrl}/chats/ann`, bearer(bob));
    try {
      const during = await scrape(server.url);
      assert.equal(during.value('flashhub_connections', { hub: 'dm', transport: 'ws' }), 2);
      assert.equal(during.value('flashhub_online_users'), 2);
      assert.equal(
        (during.value('flashhub_connections_opened_total', { hub: 'dm', transport: 'ws' }) ?? 0) - (before.value('flashhub_connections_opened_total', { hub: 'dm', transport: 'ws' }) ?? 0),
        2,
      );

      for (let i = 0; i < 3; i++) annToBob.send(`hello ${i}`);
      for (let i = 0; i < 3; i++) assert.equal((await bobToAnn.next((frame) => typeof frame?.body === 'string')).body, `hello ${i}`);
      const after = await scrape(server.url);
      const grew = (name: string, labels: Record<string, string>) => (after.value(name, labels) ?? 0) - (before.value(name, labels) ?? 0);
      assert.equal(grew('flashhub_messages_in_total', { hub: 'dm' }), 3);
      // Each message reaches bob's socket and comes back to ann's as the sender's echo.
      assert.ok(grew('flashhub_deliveries_total', { hub: 'dm', transport: 'ws' }) >= 3);
      assert.ok(grew('flashhub_messages_out_total', { hub: 'dm' }) >= 3);
      const appends = grew('flashhub_store_write_seconds_count', { operation: 'append', outcome: 'ok' });
      assert.ok(appends >= 3, `3 messages appended durably (histogram counted ${appends})`);
      assert.ok(grew('flashhub_http_requests_total', { hub: 'dm', code: '200' }) === 0, 'the WebSocket upgrades are not HTTP answers');
      assert.ok((after.value('flashhub_http_requests_total', { hub: 'dm', code: '200' }) ?? 0) >= 2, 'the two registrations were counted');
    } finally {
      annToBob.close();
      bobToAnn.close();
    }
    const closed = await waitFor('both sockets counted closed', async () => {
      const metrics = await scrape(server.url);
      return (metrics.value('flashhub_connections', { hub: 'dm', transport: 'ws' }) ?? 0) === 0 && metrics;
    });
    assert.ok((closed.value('flashhub_connections_closed_total', { hub: 'dm', reason: 'clientGone' }) ?? 0) >= 2);
  });

  test('failed logins and tokens that do not verify are counted by kind', async () => {
    await register(server.url, 'cat');
    const before = await scrape(server.url);
    assert.equal((await post(server.url, '/dm/login', { username: 'cat', password: 'wrong-password' })).status, 400);
    assert.equal((await upgrade(server.port, '/dm/chats/cat', { authorization: 'Bearer not.a.token' })).status, 401);
    const after = await scrape(server.url);
    const grew = (kind: string) => (after.value('flashhub_auth_failures_total', { kind }) ?? 0) - (before.value('flashhub_auth_failures_total', { kind }) ?? 0);
    assert.equal(grew('login:password-login'), 1);
    assert.equal(grew('token:invalid'), 1);
  });

  test('a socket that does not read is counted as a slow consumer and its drops', async () => {
    const [dan, eve] = [await register(server.url, 'dan'), await register(server.url, 'eve')];
    const before = await scrape(server.url);
    const slow = await connectWs(`${wsUrl}/chats/dan`, bearer(eve));
    (slow.ws as unknown as { _socket: net.Socket })._socket.pause();
    const fast = await connectWs(`${wsUrl}/chats/dan`, bearer(eve));
    const sender = await connectWs(`${wsUrl}/chats/eve`, bearer(dan));
    try {
      const body = 'x'.repeat(60_000);
      let dropped = false;
      for (let i = 0; i < 400 && !dropped; i++) {
        sender.send(body);
        await fast.next((frame) => typeof frame?.body === 'string');
        dropped = server.logs.some((line) => line.event === 'connection.close' && line.reason === 'slowConsumer');
      }
      assert.ok(dropped, 'the slow socket was dropped');
      const after = await scrape(server.url);
      const grew = (name: string, labels: Record<string, string>) => (after.value(name, labels) ?? 0) - (before.value(name, labels) ?? 0);
      assert.equal(grew('flashhub_slow_consumer_disconnects_total', { hub: 'dm' }), 1);
      assert.equal(grew('flashhub_connections_closed_total', { hub: 'dm', reason: 'slowConsumer' }), 1);
      assert.ok(grew('flashhub_messages_dropped_total', { hub: 'dm' }) >= 1);
    } finally {
      for (const socket of [slow, fast, sender]) socket.ws.terminate();
    }
  });
});

describe('the Grafana dashboard', () => {
  test('uses only series the server exports', async () => {
    const dashboard = await readFile(new URL('../docs/grafana-dashboard.json', import.meta.url), 'utf8');
    const exprs = [...dashboard.matchAll(/"expr": "((?:[^"\\]|\\.)*)"/g)].map((match) => JSON.parse(`"${match[1]}"`) as string);
    assert.ok(exprs.length >= 20, `the dashboard's queries were found (${exprs.length})`);
    const used = new Set(exprs.flatMap((expr) => [...expr.matchAll(/\b((?:flashhub|nodejs|process)_[a-z0-9_]+)/g)].map((match) => match[1]!)));
    const dir = await tempDir();
    // A webhook to a port nobody listens on, so that the webhook series exist as they would in use.
    const server = await startFlashhub(['--data', dir.path, '--webhook', 'http://127.0.0.1:9/'], { env: { FLASHHUB_WEBHOOK_SECRET: 'webhook-secret-0123456789' } });
    try {
      const metrics = await scrape(server.url);
      const family = (name: string) => name.replace(/_(bucket|sum|count)$/, '');
      const missing = [...used].filter((name) => !metrics.types.has(name) && !metrics.types.has(family(name)));
      assert.deepEqual(missing, [], 'every series in the dashboard is exported');
    } finally {
      await server.stop();
      await dir.remove();
    }
  });
});

describe('metrics settings', () => {
  test('metrics_token: without the Bearer token 401, with it the metrics', async () => {
    const dir = await tempDir();
    const token = 'scrape-token-0123456789';
    const server = await startFlashhub(['--data', dir.path], { env: { FLASHHUB_METRICS_TOKEN: token } });
    try {
      const refused = await fetch(`${server.url}/metrics`);
      assert.equal(refused.status, 401);
      assert.match(((await refused.json()) as { error: string }).error, /metrics_token/);
      assert.equal((await fetch(`${server.url}/metrics`, { headers: { authorization: 'Bearer wrong-token-0123456789' } })).status, 401);
      assert.equal((await scrape(server.url, { authorization: `Bearer ${token}` })).value('flashhub_ready'), 1);
      assert.ok(!server.logs.some((line) => JSON.stringify(line).includes(token)), 'the token is never logged');
    } finally {
      await server.stop();
      await dir.remove();
    }
  });

  test('metrics = false: no /metrics', async () => {
    const dir = await tempDir();
    const server = await startFlashhub(['--data', dir.path], { env: { FLASHHUB_METRICS: 'false' } });
    try {
      assert.equal((await fetch(`${server.url}/metrics`)).status, 404);
    } finally {
      await server.stop();
      await dir.remove();
    }
  });

  test('with Redis: the link state goes to 0 when Redis goes away and back to 1 when it returns', async () => {
    const redis = await startRedis();
    const dir = await tempDir();
    const server = await startFlashhub(['--data', dir.path, '--redis', redis.url]);
    try {
      const up = await scrape(server.url);
      assert.equal(up.value('flashhub_redis_connected', { link: 'cluster' }), 1);
      assert.equal(up.value('flashhub_redis_connected', { link: 'store' }), 1);
      assert.equal(up.value('flashhub_info', { store: 'redis' }), 1);
      await redis.kill();
      const down = await waitFor('the link reported down', async () => {
        const metrics = await scrape(server.url);
        return metrics.value('flashhub_redis_connected', { link: 'cluster' }) === 0 && metrics;
      }, 10_000);
      assert.equal(down.value('flashhub_ready'), 0);
      await redis.restart();  // after kill: starts it again on the same port
      await waitFor('the link reported up again', async () => (await scrape(server.url)).value('flashhub_redis_connected', { link: 'cluster' }) === 1, 15_000);
    } finally {
      await server.stop();
      await redis.stop();
      await dir.remove();
    }
  });
});
