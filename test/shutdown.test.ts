// Graceful shutdown and restart (issue 11) with real processes: on SIGTERM every SSE stream gets
// `retry:` and ends, every WebSocket is closed 1012, requests being handled get their answer, and the
// process exits 0 within shutdown_timeout even when clients never let go. Under load, across several
// SIGTERM + restart rounds on one data directory, every message whose success answer (notify 202,
// chat 201, a dm delivered to its recipient) arrived before the stop is in the hubs' own history or
// pending list afterwards, exactly once.
//
// FLASHHUB_LONG_TESTS=1 runs more and longer load rounds (10 rounds of 1.5 s instead of 3 of 0.7 s).
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { describe, test } from 'node:test';
import WebSocket from 'ws';
import { startFlashhub, tempDir, type RunningFlashhub } from './support/flashhub.ts';
import { openSse } from './support/sse.ts';
import { connectWs } from './support/ws.ts';

const long = process.env.FLASHHUB_LONG_TESTS === '1';
const rounds = long ? 10 : 3;
const loadMs = long ? 1500 : 700;
const restartReason = { code: 1012, reason: 'server restarting, reconnect shortly' };
const password = 'restart-pass';
const clientSecret = 'backend-secret-0123456789';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** An HTTP response read as raw text, to see exactly what the server wrote before it ended. */
interface RawStream {
  text(): string;
  ended: Promise<void>;
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<void>;
}

function rawStream(url: string): Promise<RawStream> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { headers: { accept: 'text/event-stream' }, agent: false }, (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk) => (text += chunk));
        const ended = new Promise<void>((done) => response.on('close', done));
        resolve({
          text: () => text,
          ended,
          async waitFor(pattern, timeoutMs = 5000) {
            const deadline = Date.now() + timeoutMs;
            while (!pattern.test(text)) {
              if (Date.now() > deadline) throw new Error(`no ${pattern} within ${timeoutMs} ms in ${JSON.stringify(text)}`);
              await sleep(10);
            }
          },
        });
      })
      .on('error', reject);
  });
}

/** Sends `text` on a fresh connection and returns the socket with what came back so far. */
function rawConnection(port: number, text: string): { socket: net.Socket; received(): string; closed: Promise<void> } {
  const socket = net.connect(port, '127.0.0.1');
  let received = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk) => (received += chunk));
  socket.on('error', () => undefined);
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
  socket.write(text);
  return { socket, received: () => received, closed };
}

async function json(base: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, json: text ? JSON.parse(text) : undefined, headers: response.headers };
}

describe('graceful shutdown', () => {
  test('SIGTERM: SSE streams get retry: and end, WebSockets close 1012, exit 0', async () => {
    const dir = await tempDir();
    const server = await startFlashhub(['--data', dir.path, '--demo']);
    try {
      const stream = await rawStream(`${server.url}/sse?user_id=ricardo`);
      await stream.waitFor(/"payload":"ping"/);
      const socket = await connectWs(`${server.url.replace('http', 'ws')}/presence/ws`);
      const signalled = Date.now();
      assert.equal(await server.stop('SIGTERM'), 0);
      const ms = Date.now() - signalled;
      await stream.ended;
      const retry = /\nretry: (\d+)\n\n$/.exec(stream.text());
      assert.ok(retry, `the stream ends with a retry field: ${JSON.stringify(stream.text())}`);
      assert.ok(Number(retry[1]) >= 1000 && Number(retry[1]) <= 3000, `retry ${retry[1]} ms is within 1-3 s`);
      assert.deepEqual(await socket.closed, restartReason);
      assert.ok(ms < 3000, `well-behaved clients let the server stop at once (${ms} ms)`);
      assert.ok(!server.logs.some((line) => line.event === 'server.shutdown_timeout'), 'no connection had to be cut');
    } finally {
      await dir.remove();
    }
  });

  test('a request being handled when SIGTERM arrives gets its answer, and its write is kept', async () => {
    const dir = await tempDir();
    let server: RunningFlashhub | undefined = await startFlashhub(['--data', dir.path]);
    try {
      const body = JSON.stringify({ name: 'Late Comer', username: 'latecomer', password });
      const split = 10;
      const request = rawConnection(
        server.port,
        `POST /dm/register HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body.slice(0, split)}`,
      );
      await sleep(200);
      const exited = server.stop('SIGTERM');
      await sleep(300);
      assert.equal(request.received(), '', 'no answer before the body is complete');
      request.socket.write(body.slice(split));
      await request.closed;
      assert.match(request.received(), /^HTTP\/1\.1 200 /);
      assert.match(request.received(), /\r\nConnection: close\r\n/i, 'the connection ends with the answer');
      assert.equal(await exited, 0);

      server = await startFlashhub(['--data', dir.path]);
      const login = await json(server.url, 'POST', '/dm/login', { username: 'latecomer', password });
      assert.equal(login.status, 200, 'the account registered during the shutdown is there');
    } finally {
      await server?.stop();
      await dir.remove();
    }
  });

  test('clients that never let go: the process still exits 0 within shutdown_timeout, with a warning', async (t) => {
    const dir = await tempDir();
    const timeoutSeconds = 2;
    const server = await startFlashhub(['--data', dir.path, '--demo'], { env: { FLASHHUB_SHUTDOWN_TIMEOUT: String(timeoutSeconds) } });
    try {
      // A WebSocket that never answers the close frame (ws would wait 30 s for it).
      const socket = rawConnection(
        server.port,
        'GET /presence/ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
          'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
      );
      // A request whose body never comes.
      const request = rawConnection(server.port, 'POST /dm/register HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"na');
      // An event stream that is never read.
      const stream = rawConnection(server.port, 'GET /sse?user_id=ricardo HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n');
      const deadline = Date.now() + 5000;
      while (!/^HTTP\/1\.1 101 /.test(socket.received()) || !/^HTTP\/1\.1 200 /.test(stream.received())) {
        assert.ok(Date.now() < deadline, 'the upgrade and the stream were answered');
        await sleep(10);
      }
      socket.socket.pause();
      stream.socket.pause();

      const signalled = Date.now();
      const code = await server.stop('SIGTERM');
      const ms = Date.now() - signalled;
      assert.equal(code, 0);
      const stopped = server.logs.find((line) => line.event === 'server.stopped') as { ms: number } | undefined;
      assert.ok(stopped, 'server.stopped is logged');
      assert.ok(stopped.ms < timeoutSeconds * 1000, `the shutdown took ${stopped.ms} ms of ${timeoutSeconds} s`);
      assert.ok(ms < timeoutSeconds * 1000 + 500, `the process was gone ${ms} ms after the signal`);
      const warning = server.logs.find((line) => line.event === 'server.shutdown_timeout');
      assert.ok(warning, 'the cut connections are logged as a warning');
      assert.equal(warning.level, 'warn');
      t.diagnostic(`shutdown_timeout ${timeoutSeconds} s: server stopped in ${stopped.ms} ms, process gone ${ms} ms after the signal`);
      // Read again: a paused socket never sees the end the server sent it.
      socket.socket.resume();
      stream.socket.resume();
      await Promise.all([socket.closed, request.closed, stream.closed]);
    } finally {
      await dir.remove();
    }
  });
});

// ---- under load, across restarts ----

interface Outcomes {
  sent: number;
  acked: number;
  /** Connection refused, reset or closed before an answer. */
  network: Record<string, number>;
  /** HTTP answers other than the success status. */
  statuses: Record<number, number>;
}

const newOutcomes = (): Outcomes => ({ sent: 0, acked: 0, network: {}, statuses: {} });

function networkCode(error: unknown): string {
  const cause = (error as { cause?: { code?: string } }).cause;
  return cause?.code ?? (error as { code?: string }).code ?? (error as Error).name;
}

interface Stop {
  now: boolean;
}

/** Sends one request after the other until told to stop; `acked` gets the tags whose success answer came. */
async function httpLoader(
  send: (tag: string) => Promise<Response>,
  success: number,
  prefix: string,
  acked: Set<string>,
  outcomes: Outcomes,
  stop: Stop,
): Promise<void> {
  for (let i = 0; !stop.now; i++) {
    const tag = `${prefix}-${i}`;
    outcomes.sent++;
    try {
      const response = await send(tag);
      await response.text();
      if (response.status === success) {
        acked.add(tag);
        outcomes.acked++;
        continue;
      }
      outcomes.statuses[response.status] = (outcomes.statuses[response.status] ?? 0) + 1;
    } catch (error) {
      const code = networkCode(error);
      outcomes.network[code] = (outcomes.network[code] ?? 0) + 1;
    }
    await sleep(10);
  }
}

/**
 * Ann sends dm texts to Bob over her socket (at most 4 on the way at once); a text counts as
 * acknowledged when Bob's socket receives it: the server sends it only once it is durable.
 */
async function dmLoader(
  wsBase: string,
  tokens: { ann: string; bob: string },
  prefix: string,
  acked: Set<string>,
  outcomes: Outcomes,
  ready: () => void,
): Promise<{ ann: { code: number; reason: string }; bob: { code: number; reason: string } }> {
  const outstanding = new Set<string>();
  let wake: (() => void) | undefined;
  const open = async (path: string, token: string) => {
    const ws = new WebSocket(`${wsBase}${path}`, { headers: { authorization: `Bearer ${token}` } });
    const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.on('close', (code, reason) => {
      resolve({ code, reason: reason.toString() });
      wake?.();
    }));
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    ws.on('error', () => undefined); // a cut connection shows in the close code
    return { ws, closed };
  };
  const bob = await open('/dm/chats/ann', tokens.bob);
  bob.ws.on('message', (data) => {
    const frame = JSON.parse(data.toString()) as { body?: unknown };
    if (typeof frame.body !== 'string') return;
    if (!acked.has(frame.body)) outcomes.acked++;
    acked.add(frame.body);
    outstanding.delete(frame.body);
    wake?.();
  });
  const ann = await open('/dm/chats/bob', tokens.ann);
  ready();
  for (let i = 0; ann.ws.readyState === WebSocket.OPEN; i++) {
    while (outstanding.size >= 4 && ann.ws.readyState === WebSocket.OPEN) {
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, 50);
      });
    }
    if (ann.ws.readyState !== WebSocket.OPEN) break;
    const tag = `${prefix}-${i}`;
    outstanding.add(tag);
    outcomes.sent++;
    ann.ws.send(tag);
  }
  return { ann: await ann.closed, bob: await bob.closed };
}

/** How often each text appears in the hubs' own records: notify's pending list, chat's and dm's history. */
async function recorded(base: string, tokens: { ann: string; chatCookie: string }, expectedNotify: Set<string>) {
  const counts = { notify: new Map<string, number>(), chat: new Map<string, number>(), dm: new Map<string, number>() };
  const add = (map: Map<string, number>, key: string) => map.set(key, (map.get(key) ?? 0) + 1);

  // notify: every unacknowledged notification of carl is replayed, oldest first, on a new stream.
  const client = await json(base, 'POST', '/notify/api/auth/token', { client_id: 'backend', client_secret: clientSecret });
  assert.equal(client.status, 200);
  const streamToken = await json(base, 'GET', '/notify/api/user/carl/token', undefined, { authorization: `Bearer ${client.json.access_token}` });
  assert.equal(streamToken.status, 200);
  const stream = await openSse(`${base}/notify/sse?token=${streamToken.json.access_token}`);
  assert.equal(stream.status, 200);
  let missing = expectedNotify.size;
  for (;;) {
    let event;
    try {
      // Once everything expected arrived, a short quiet spell shows there is nothing more (no copy).
      event = await stream.next(missing > 0 ? 10_000 : 500);
    } catch {
      break;
    }
    const payload = (JSON.parse(event.data) as { payload: string }).payload;
    if (payload === 'ping') continue;
    add(counts.notify, payload);
    if (counts.notify.get(payload) === 1 && expectedNotify.has(payload)) missing--;
  }
  stream.close();

  // chat: General, newest first, paged back with before=.
  for (let before: number | undefined; ; ) {
    const page = await json(base, 'GET', `/chat/room/0/messages?size=500${before === undefined ? '' : `&before=${before}`}`, undefined, { cookie: tokens.chatCookie });
    assert.equal(page.status, 200, JSON.stringify(page.json));
    for (const message of page.json as { id: number; message: string }[]) add(counts.chat, message.message);
    if (page.json.length < 500) break;
    before = page.json[page.json.length - 1].id;
  }

  // dm: ann's conversation with bob, oldest first, paged forward with after=.
  for (let after = 0; ; ) {
    const page = await json(base, 'GET', `/dm/chats/bob/messages?after=${after}&limit=500`, undefined, { authorization: `Bearer ${tokens.ann}` });
    assert.equal(page.status, 200, JSON.stringify(page.json));
    const messages = page.json.content as { id: number; body: string }[];
    for (const message of messages) add(counts.dm, message.body);
    if (messages.length < 500) break;
    after = messages[messages.length - 1]!.id;
  }
  return counts;
}

describe('restart under load', () => {
  test(`${rounds} rounds of SIGTERM and restart under load: every acknowledged message is kept exactly once`, { timeout: long ? 600_000 : 240_000 }, async (t) => {
    const dir = await tempDir();
    const env = {
      FLASHHUB_CLIENT_ID: 'backend',
      FLASHHUB_CLIENT_SECRET: clientSecret,
      // The dm sender is paced by deliveries, not by the per-socket frame limit.
      FLASHHUB_MESSAGES_PER_SECOND: '100000',
    };
    let server = await startFlashhub(['--data', dir.path], { env });
    const acked = { notify: new Set<string>(), chat: new Set<string>(), dm: new Set<string>() };
    const outcomes = { notify: newOutcomes(), chat: newOutcomes(), dm: newOutcomes() };
    const shutdownMs: number[] = [];
    try {
      const register = async (username: string) => {
        const answer = await json(server.url, 'POST', '/dm/register', { name: username, username, password });
        assert.equal(answer.status, 200, JSON.stringify(answer.json));
        return answer.json.content.token as string;
      };
      const tokens = { ann: await register('ann'), bob: await register('bob'), chatCookie: '' };
      const chatLogin = await json(server.url, 'POST', '/chat/login', { username: 'ann', password });
      assert.equal(chatLogin.status, 200);
      tokens.chatCookie = chatLogin.headers.get('set-cookie')!.split(';')[0]!;

      for (let round = 1; round <= rounds; round++) {
        const base = server.url;
        const client = await json(base, 'POST', '/notify/api/auth/token', { client_id: 'backend', client_secret: clientSecret });
        assert.equal(client.status, 200);
        const notify = (tag: string) =>
          fetch(`${base}/notify/api/message/notify`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: `Bearer ${client.json.access_token}` },
            body: JSON.stringify({ users: ['carl'], payload: tag }),
          });
        const chat = (tag: string) =>
          fetch(`${base}/chat/room/0/messages`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', cookie: tokens.chatCookie },
            body: JSON.stringify({ message: tag }),
          });
        const before = { notify: acked.notify.size, chat: acked.chat.size, dm: acked.dm.size };
        const stop: Stop = { now: false };
        let dmReady!: () => void;
        const dmOpened = new Promise<void>((resolve) => (dmReady = resolve));
        const load = Promise.all([
          httpLoader(notify, 202, `n${round}a`, acked.notify, outcomes.notify, stop),
          httpLoader(notify, 202, `n${round}b`, acked.notify, outcomes.notify, stop),
          httpLoader(chat, 201, `c${round}a`, acked.chat, outcomes.chat, stop),
          httpLoader(chat, 201, `c${round}b`, acked.chat, outcomes.chat, stop),
          dmLoader(base.replace('http', 'ws'), tokens, `d${round}`, acked.dm, outcomes.dm, dmReady),
        ]);
        await dmOpened;
        await sleep(loadMs);

        const signalled = Date.now();
        assert.equal(await server.stop('SIGTERM'), 0, `round ${round}: exit code`);
        shutdownMs.push(Date.now() - signalled);
        const stopped = server.logs.find((line) => line.event === 'server.stopped') as { ms: number; drainedMs: number };
        assert.ok(!server.logs.some((line) => line.event === 'server.shutdown_timeout'), `round ${round}: no connection had to be cut`);
        stop.now = true;
        const [, , , , dm] = await load;
        assert.deepEqual(dm.ann, restartReason, `round ${round}: the sender's socket`);
        assert.deepEqual(dm.bob, restartReason, `round ${round}: the recipient's socket`);
        for (const hub of ['notify', 'chat', 'dm'] as const) {
          assert.ok(acked[hub].size > before[hub], `round ${round}: some ${hub} messages were acknowledged`);
        }

        server = await startFlashhub(['--data', dir.path], { env });
        const counts = await recorded(server.url, tokens, acked.notify);
        for (const hub of ['notify', 'chat', 'dm'] as const) {
          const lost = [...acked[hub]].filter((tag) => !counts[hub].has(tag));
          const copied = [...counts[hub]].filter(([, n]) => n > 1).map(([tag, n]) => `${tag} ×${n}`);
          assert.deepEqual(lost, [], `round ${round}: acknowledged ${hub} messages lost`);
          assert.deepEqual(copied, [], `round ${round}: ${hub} messages stored more than once`);
        }
        t.diagnostic(
          `round ${round}: shutdown ${shutdownMs.at(-1)} ms (server: drained in ${stopped.drainedMs} ms, stopped in ${stopped.ms} ms); acknowledged and found once: notify ${acked.notify.size}, chat ${acked.chat.size}, dm ${acked.dm.size}; ` +
            `stored without an acknowledgement: notify ${counts.notify.size - acked.notify.size}, chat ${counts.chat.size - acked.chat.size}, dm ${counts.dm.size - acked.dm.size}`,
        );
      }
    } finally {
      await server.stop();
      await dir.remove();
    }

    // Whatever did not succeed failed cleanly: refused or cut connections, or a 503; never another answer.
    for (const hub of ['notify', 'chat'] as const) {
      const unexpected = Object.keys(outcomes[hub].statuses).filter((status) => status !== '503');
      assert.deepEqual(unexpected, [], `${hub}: unexpected answers ${JSON.stringify(outcomes[hub].statuses)}`);
    }
    t.diagnostic(`outcomes: ${JSON.stringify(outcomes)}`);
    t.diagnostic(`shutdown times (ms): ${shutdownMs.join(', ')}`);
  });
});
