// Issue 11, hardening: 1,000 clients stop reading while messages keep flowing. Memory stays bounded,
// the slow clients are dropped with a reason, and the others get every message, quickly.
//
// The slow clients are held by a small C program (stalled-clients.c, built here with the system's
// cc): it opens the connections, completes each handshake, and then never reads again, with a small
// receive buffer and MSS so the kernel holds only tens of KiB per socket and the server's own send
// queue (FLASHHUB_SEND_QUEUE_BYTES) is what fills. Half of them are on chat (WebSocket and SSE, whose
// broadcasts are one shared frame for every recipient), half on presence (sendMessageToUser frames
// are encoded for each socket, so an unbounded queue there would show up in the server's RSS at
// once). Twenty healthy clients read everything on the same channels.
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import WebSocket from 'ws';
import { startFlashhub, tempDir, type RunningFlashhub } from '../support/flashhub.ts';
import { openSse, type SseStream } from '../support/sse.ts';

const sendQueueBytes = 64 * 1024;
const slowChatWs = 350;
const slowChatSse = 150;
const slowPresence = 500;
const slowTotal = slowChatWs + slowChatSse + slowPresence;
const healthyChatWs = 5;
const healthyChatSse = 5;
const healthyPresence = 10;
/** Text of each message: large enough that a few dozen fill a stalled client's queue. */
const padBytes = 4000;
/** The largest frame a client gets: the padding plus the JSON around it (ids, names, the WebSocket header). */
const maxFrameBytes = padBytes + 512;
/** Heap growth, code and garbage not yet collected while a thousand frames a message are written. */
const slackBytes = 64 * 1024 * 1024;
const p99BoundMs = 500;
const publishLimitMs = 20_000;
const afterDropsMs = 2_000;

/** Compiles stalled-clients.c once per version of it. */
function stalledClientsBinary(): string {
  const source = path.join(import.meta.dirname, 'stalled-clients.c');
  const hash = createHash('sha256').update(readFileSync(source)).digest('hex').slice(0, 12);
  const out = path.join(os.tmpdir(), `flashhub-stalled-clients-${hash}`);
  if (!existsSync(out)) execFileSync('cc', ['-O2', '-o', out, source]);
  return out;
}

interface Stalled {
  child: ChildProcessWithoutNullStreams;
  opened: number;
  failed: number;
  /** Reads every socket again (for at most `ms`) and tells what each one got at the end. */
  drain(ms: number): Promise<{ outcomes: Map<string, number>; bytes: number }>;
}

async function openStalled(port: number, lines: string[]): Promise<Stalled> {
  const child = spawn(stalledClientsBinary(), [String(port)], { stdio: ['pipe', 'pipe', 'pipe'] });
  const output = createInterface({ input: child.stdout });
  const pending: string[] = [];
  let wake: (() => void) | undefined;
  output.on('line', (line) => {
    pending.push(line);
    wake?.();
  });
  const nextLine = async (timeoutMs: number): Promise<string> => {
    const deadline = Date.now() + timeoutMs;
    while (pending.length === 0) {
      if (Date.now() > deadline) throw new Error('stalled-clients did not answer');
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, 100);
      });
    }
    return pending.shift()!;
  };
  child.stdin.write(lines.map((line) => `${line}\n`).join('') + 'go\n');
  const ready = (await nextLine(30_000)).split(' ');
  assert.equal(ready[0], 'ready');
  return {
    child,
    opened: Number(ready[1]),
    failed: Number(ready[2]),
    async drain(ms) {
      child.stdin.write(`drain ${ms}\n`);
      const outcomes = new Map<string, number>();
      let bytes = 0;
      for (;;) {
        const line = await nextLine(ms + 10_000);
        if (line === 'done') break;
        const [word, count, ...rest] = line.split(' ');
        if (word === 'result') outcomes.set(rest.join(' '), Number(count));
        if (word === 'bytes') bytes = Number(count);
      }
      return { outcomes, bytes };
    },
  };
}

function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = /VmRSS:\s+(\d+) kB/.exec(status);
  return kb ? Number(kb[1]) * 1024 : 0;
}

const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

async function register(base: string, username: string): Promise<{ token: string; id: number }> {
  const registered = await fetch(`${base}/dm/register`, { method: 'POST', body: JSON.stringify({ name: username, username, password: `${username}-pass-1` }) });
  assert.equal(registered.status, 200);
  const token = ((await registered.json()) as { content: { token: string } }).content.token;
  const me = await fetch(`${base}/presence/users/me`, { headers: { authorization: `Bearer ${token}` } });
  const id = ((await me.json()) as { data: { id: number } }).data.id;
  return { token, id };
}

/** A healthy reader: records when each message arrived and what it carried. */
interface Reader {
  name: string;
  /** message number → arrival latency in ms, in arrival order */
  got: { n: number; latencyMs: number }[];
  open(): boolean;
  close(): void;
}

/** Message texts: "m<n> <sent at ms> xxxx…", so any reader can tell which message and how late. */
const messageText = (n: number) => `m${n} ${Date.now()} ${'x'.repeat(padBytes)}`;
function parseText(text: string): { n: number; sentAt: number } | undefined {
  const match = /^m(\d+) (\d+) /.exec(text);
  return match ? { n: Number(match[1]), sentAt: Number(match[2]) } : undefined;
}

async function wsReader(name: string, url: string, onOpen: (ws: WebSocket) => Promise<void>, textOf: (frame: any) => string | undefined): Promise<Reader> {
  const ws = new WebSocket(url);
  const reader: Reader = { name, got: [], open: () => ws.readyState === WebSocket.OPEN, close: () => ws.terminate() };
  ws.on('message', (data) => {
    const now = Date.now();
    let frame: unknown;
    try {
      frame = JSON.parse(data.toString());
    } catch {
      return;
    }
    const text = textOf(frame);
    const parsed = text === undefined ? undefined : parseText(text);
    if (parsed) reader.got.push({ n: parsed.n, latencyMs: now - parsed.sentAt });
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  await onOpen(ws);
  return reader;
}

async function sseReader(name: string, url: string): Promise<Reader & { stream: SseStream }> {
  const stream = await openSse(url);
  assert.equal(stream.status, 200);
  let closed = false;
  const reader = { name, got: [] as Reader['got'], stream, open: () => !closed, close: () => stream.close() };
  void (async () => {
    for (;;) {
      let event;
      try {
        event = await stream.next(600_000);
      } catch {
        closed = true;
        return;
      }
      const now = Date.now();
      const frame = JSON.parse(event.data) as { type: string; data: { message?: string } };
      const parsed = frame.type === 'message' && frame.data.message ? parseText(frame.data.message) : undefined;
      if (parsed) reader.got.push({ n: parsed.n, latencyMs: now - parsed.sentAt });
    }
  })();
  return reader;
}

function haveCompiler(): boolean {
  try {
    execFileSync('cc', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

test('1,000 clients stop reading while messages keep flowing: memory bounded, slow ones dropped with a reason, the others keep their latency', { timeout: 120_000, skip: haveCompiler() ? false : 'needs a C compiler (cc) to build stalled-clients.c' }, async (t) => {
  const dir = await tempDir();
  let server: RunningFlashhub | undefined;
  let stalled: Stalled | undefined;
  const readers: Reader[] = [];
  try {
    server = await startFlashhub(['--data', dir.path], {
      env: {
        FLASHHUB_SEND_QUEUE_BYTES: String(sendQueueBytes),
        FLASHHUB_CONNECTIONS_PER_USER: '5000',
        FLASHHUB_CONNECTIONS_PER_ADDRESS: '100000',
        FLASHHUB_MESSAGES_PER_SECOND: '100000',
        // No ping may close a stalled socket for another reason while the test runs.
        FLASHHUB_WS_HEARTBEAT: '600',
      },
    });
    const base = server.url;
    const wsBase = base.replace('http', 'ws');
    const pid = server.child.pid!;
    const rssAtStart = rssBytes(pid);

    const [slowChat, slowPres, fastChat, fastPres, publisher] = await Promise.all(['slowchat', 'slowpres', 'fastchat', 'fastpres', 'publisher'].map((name) => register(base, name)));
    const hello = (token: string) => JSON.stringify({ type: 'HELLO', accesstoken: token });

    // ---- the thousand that will stop reading
    const lines = [
      ...Array.from({ length: slowChatWs }, () => `ws /chat/ws?token=${slowChat!.token}`),
      ...Array.from({ length: slowChatSse }, () => `sse /chat/stream?token=${slowChat!.token}`),
      ...Array.from({ length: slowPresence }, () => `ws /presence/ws ${hello(slowPres!.token)}`),
    ];
    const opening = Date.now();
    stalled = await openStalled(server.port, lines);
    assert.deepEqual([stalled.opened, stalled.failed], [slowTotal, 0], 'every slow client connected');
    const openSeconds = (Date.now() - opening) / 1000;

    // ---- twenty healthy readers on the same channels
    const chatText = (frame: any) => (frame?.type === 'message' ? frame.data?.message : undefined);
    const presenceText = (frame: any) => (frame?.type === 'message' ? frame.message?.text : undefined);
    for (let i = 0; i < healthyChatWs; i++) readers.push(await wsReader(`chat-ws-${i}`, `${wsBase}/chat/ws?token=${fastChat!.token}`, async () => {}, chatText));
    for (let i = 0; i < healthyChatSse; i++) readers.push(await sseReader(`chat-sse-${i}`, `${base}/chat/stream?token=${fastChat!.token}`));
    for (let i = 0; i < healthyPresence; i++) {
      readers.push(
        await wsReader(`presence-${i}`, `${wsBase}/presence/ws`, async (ws) => {
          const ok = new Promise<void>((resolve, reject) => {
            const onMessage = (data: WebSocket.RawData) => {
              const frame = JSON.parse(data.toString());
              if (frame.type !== 'HELLO') return;
              ws.off('message', onMessage);
              if (frame.ok) resolve();
              else reject(new Error(JSON.stringify(frame)));
            };
            ws.on('message', onMessage);
          });
          ws.send(hello(fastPres!.token));
          await ok;
        }, presenceText),
      );
    }
    const sender = new WebSocket(`${wsBase}/presence/ws`);
    await new Promise((resolve, reject) => sender.once('open', resolve).once('error', reject));
    const replies = new Map<string, (frame: any) => void>();
    sender.on('message', (data) => {
      const frame = JSON.parse(data.toString());
      if (frame.reqId !== undefined) replies.get(String(frame.reqId))?.(frame);
    });
    const ask = (frame: Record<string, unknown>, reqId: string) =>
      new Promise<any>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no reply to ${reqId}`)), 10_000);
        replies.set(reqId, (reply) => {
          clearTimeout(timer);
          replies.delete(reqId);
          resolve(reply);
        });
        sender.send(JSON.stringify({ ...frame, reqId }));
      });
    assert.equal((await ask({ type: 'HELLO', accesstoken: publisher!.token }, 'hello')).ok, true);

    await new Promise((resolve) => setTimeout(resolve, 500));
    const rssBaseline = rssBytes(pid);
    // Each stalled socket's send queue may reach the limit plus the one frame that crossed it; that
    // is the most the slow clients may cost. Their kernel buffers are not in the server's RSS.
    const bound = rssBaseline + slowTotal * (sendQueueBytes + maxFrameBytes) + slackBytes;
    let rssPeak = rssBaseline;
    const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, rssBytes(pid))), 50);

    // ---- publish: chat General over HTTP and presence messages to the slow user's sockets, each in
    // its own loop, until both slow users are offline (all their sockets dropped), then a bit more.
    const chatIds: number[] = [];
    let presenceSent = 0;
    let dropsDoneAt: number | undefined;
    let stop = false;
    const started = Date.now();
    // A failure in one loop stops the others.
    const loop = (body: () => Promise<void>) =>
      body().catch((error: unknown) => {
        stop = true;
        throw error;
      });
    const online = async () => Object.keys((await (await fetch(`${base}/chat/users/online`)).json()) as Record<string, unknown>).map(Number);
    const chatLoop = loop(async () => {
      for (let n = 0; !stop; n++) {
        const posted = await fetch(`${base}/chat/room/0/messages?token=${publisher!.token}`, { method: 'POST', body: JSON.stringify({ message: messageText(n) }) });
        assert.equal(posted.status, 201);
        chatIds.push(((await posted.json()) as { id: number }).id);
      }
    });
    const presenceLoop = loop(async () => {
      for (let n = 0; !stop; n++) {
        const reply = await ask({ type: 'sendMessageToUser', id: slowPres!.id, message: { text: messageText(n) } }, `m${n}`);
        assert.equal(reply.ok, true, JSON.stringify(reply));
        presenceSent++;
        // same user: the healthy presence readers are fastpres; send them the same message
        const healthyReply = await ask({ type: 'sendMessageToUser', id: fastPres!.id, message: { text: messageText(n) } }, `h${n}`);
        assert.equal(healthyReply.delivered, healthyPresence, 'every healthy presence socket took it');
      }
    });
    const watchLoop = loop(async () => {
      while (!stop) {
        await new Promise((resolve) => setTimeout(resolve, 200));
        const ids = await online();
        if (dropsDoneAt === undefined && !ids.includes(slowChat!.id) && !ids.includes(slowPres!.id)) dropsDoneAt = Date.now();
        if ((dropsDoneAt !== undefined && Date.now() - dropsDoneAt >= afterDropsMs) || Date.now() - started > publishLimitMs) stop = true;
      }
    });
    await Promise.all([chatLoop, presenceLoop, watchLoop]);
    const publishSeconds = (Date.now() - started) / 1000;

    // Every healthy reader gets every message (waiting at most 5 s for the last ones).
    const expected = { chat: chatIds.length, presence: presenceSent };
    const complete = () =>
      readers.every((r) => r.got.length >= (r.name.startsWith('presence') ? expected.presence : expected.chat));
    for (const deadline = Date.now() + 5000; !complete() && Date.now() < deadline; ) await new Promise((resolve) => setTimeout(resolve, 50));
    clearInterval(sampler);
    rssPeak = Math.max(rssPeak, rssBytes(pid));

    // ---- what the stalled clients got, once they read again
    const drained = await stalled.drain(20_000);
    const outcomes = Object.fromEntries(drained.outcomes);
    const latencies = readers.flatMap((r) => r.got.map((g) => g.latencyMs));
    const p99 = percentile(latencies, 99);
    const figures = {
      slowClients: slowTotal,
      healthyClients: readers.length,
      openSeconds,
      publishSeconds,
      dropsDoneAfterSeconds: dropsDoneAt === undefined ? null : (dropsDoneAt - started) / 1000,
      chatMessages: expected.chat,
      presenceMessages: expected.presence,
      rssAtStart: mib(rssAtStart),
      rssBaseline: mib(rssBaseline),
      rssPeak: mib(rssPeak),
      rssBound: mib(bound),
      drainedBytes: drained.bytes,
      outcomes,
      healthyP50Ms: percentile(latencies, 50),
      healthyP99Ms: p99,
      healthyMaxMs: Math.max(...latencies),
    };
    t.diagnostic(JSON.stringify(figures));

    assert.ok(dropsDoneAt !== undefined, `every slow client was dropped within ${publishLimitMs / 1000} s: ${JSON.stringify(figures)}`);
    assert.ok(rssPeak <= bound, `server RSS peaked at ${mib(rssPeak)}, over the bound ${mib(bound)}`);
    const queueFull = 'send queue full: client is not reading';
    assert.deepEqual(outcomes, { [`ws close 1008 ${queueFull}`]: slowChatWs + slowPresence, 'sse ended': slowChatSse }, 'each slow WebSocket got 1008 with the reason, each slow stream ended');
    for (const reader of readers) {
      const want = reader.name.startsWith('presence') ? expected.presence : expected.chat;
      assert.deepEqual(reader.got.map((g) => g.n), [...Array(want).keys()], `${reader.name} got every message once, in order`);
      assert.ok(reader.open(), `${reader.name} is still connected`);
    }
    assert.ok(p99 < p99BoundMs, `healthy readers' p99 latency ${p99} ms (bound ${p99BoundMs} ms)`);
    const ids = await online();
    assert.ok(ids.includes(fastChat!.id) && ids.includes(fastPres!.id), 'the healthy users are still online');
    sender.terminate();
  } finally {
    for (const reader of readers) reader.close();
    stalled?.child.kill('SIGKILL');
    await server?.stop();
    await dir.remove();
  }
});
