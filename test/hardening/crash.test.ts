// Issue 11, hardening: crash safety of the whole server. Real traffic runs on all four hubs; the
// server is killed with SIGKILL at a random moment, restarted on the same data directory, and every
// acknowledged notification, room message and dm must be there exactly once, in order.
//
// What counts as acknowledged, per hub:
//   notify  POST /api/message/notify answered 202 (stored for every recipient first);
//   chat    POST /chat/room/:id/messages answered 201 (its id is the message's seq in the room);
//   dm      the message came back, with its id, on the sender's other socket (the sender's own
//           socket gets no echo; dm publishes a message only once it is stored);
//   presence stores nothing: its traffic only keeps the server busy.
// A request cut by the kill is "in flight": it may or may not be stored, but if it is, it sits where
// it was sent (each writer sends one item at a time, so it is the writer's latest) and appears once.
//
// Checked after each restart, on the restarted server's own APIs:
//   notify  each recipient's pending list (replayed on a stream until a sentinel sent after the
//           restart): ids increasing and above every id acknowledged before, each acknowledged item
//           once, each writer's items in order; then everything is acknowledged (read) through the
//           stream token, and none of those may ever come back;
//   chat    each room's whole history: ids 1..n without gaps, each acknowledged message once at the
//           id it was given, each writer's messages in order;
//   dm      the conversation's whole history, the same way; frames replayed on reconnect carry the
//           ids the history has.
// Rounds: 8 (FLASHHUB_CRASH_ROUNDS to change), 50 with FLASHHUB_LONG_TESTS=1; FLASHHUB_CRASH_SEED
// replays a run.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import WebSocket from 'ws';
import { startFlashhub, tempDir, type RunningFlashhub } from '../support/flashhub.ts';
import { openSse } from '../support/sse.ts';

const long = process.env.FLASHHUB_LONG_TESTS === '1';
const rounds = Number(process.env.FLASHHUB_CRASH_ROUNDS ?? (long ? 50 : 8));
const seed = Number(process.env.FLASHHUB_CRASH_SEED ?? Math.floor(Math.random() * 2 ** 31));
const minKillMs = 200;
const maxKillMs = 1500;
const clientId = 'crash-backend';
const clientSecret = 'crash-backend-secret-5e1f';
const password = 'crash-pass-77';

/** mulberry32: a small seeded generator, so a failing run can be replayed with its seed. */
function rng(seedValue: number): () => number {
  let a = seedValue >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Kind = 'notify' | 'chat' | 'dm';

interface Stats {
  acknowledged: number;
  checked: number;
  lost: number;
  duplicated: number;
  outOfOrder: number;
  unexpected: number;
  resurrected: number;
  movedIds: number;
  idProblems: number;
  inFlight: number;
  inFlightStored: number;
}

const emptyStats = (): Stats => ({ acknowledged: 0, checked: 0, lost: 0, duplicated: 0, outOfOrder: 0, unexpected: 0, resurrected: 0, movedIds: 0, idProblems: 0, inFlight: 0, inFlightStored: 0 });

interface Attempt {
  kind: Kind;
  stream: string;
  writer: string;
  wseq: number;
  tag: string;
  acked: boolean;
  /** The id the server gave it, once known (chat and dm acknowledgements carry it). */
  id?: number;
  /** Seen in the store by a check. */
  verified: boolean;
  lost: boolean;
}

class Model {
  readonly stats: Record<Kind, Stats> = { notify: emptyStats(), chat: emptyStats(), dm: emptyStats() };
  readonly attempts = new Map<string, Attempt>();
  /** notify: items acknowledged (read) after a check; they must never come back. */
  readonly removed = new Set<string>();
  readonly maxRemovedId = new Map<string, number>();
  readonly violations: string[] = [];
  /** dm: the ids bob's sockets were given (live or replayed on connect), across every round. */
  readonly bobReceived = new Set<number>();
  readonly #wseq = new Map<string, number>();

  /** The next item of a writer: its number among the writer's items, and its unique tag. */
  next(writer: string): { tag: string; wseq: number } {
    const wseq = (this.#wseq.get(writer) ?? 0) + 1;
    this.#wseq.set(writer, wseq);
    return { tag: `${writer}:${wseq}`, wseq };
  }

  add(kind: Kind, stream: string, writer: string, wseq: number, tag: string): Attempt {
    const attempt: Attempt = { kind, stream, writer, wseq, tag, acked: false, verified: false, lost: false };
    this.attempts.set(`${stream}|${tag}`, attempt);
    return attempt;
  }

  ack(attempt: Attempt, id?: number): void {
    if (attempt.acked) return;
    attempt.acked = true;
    if (id !== undefined) attempt.id = id;
    this.stats[attempt.kind].acknowledged++;
  }

  violation(kind: Kind, what: keyof Stats, text: string): void {
    this.stats[kind][what]++;
    if (this.violations.length < 30) this.violations.push(`${kind}: ${text}`);
  }

  /**
   * Compares what a stream holds (oldest first) with what was sent to it. `contiguous`: ids are the
   * room's seqs, 1..n (chat, dm); otherwise they only increase (notify).
   */
  verify(kind: Kind, stream: string, items: { id: number; tag: string }[], contiguous: boolean, round: number): void {
    const seen = new Set<string>();
    const lastWseq = new Map<string, number>();
    let previousId = this.maxRemovedId.get(stream) ?? 0;
    items.forEach((item, index) => {
      if (contiguous ? item.id !== index + 1 : item.id <= previousId) {
        this.violation(kind, 'idProblems', `round ${round}: ${stream} has id ${item.id} at position ${index + 1} (after ${previousId})`);
      }
      previousId = item.id;
      const key = `${stream}|${item.tag}`;
      if (seen.has(item.tag)) return this.violation(kind, 'duplicated', `round ${round}: ${stream} holds ${item.tag} again at id ${item.id}`);
      seen.add(item.tag);
      const attempt = this.attempts.get(key);
      if (!attempt) {
        if (this.removed.has(key)) return this.violation(kind, 'resurrected', `round ${round}: ${stream} holds ${item.tag} (id ${item.id}) again after it was acknowledged`);
        return this.violation(kind, 'unexpected', `round ${round}: ${stream} holds ${item.tag} (id ${item.id}), never sent or given up as lost in flight`);
      }
      if ((lastWseq.get(attempt.writer) ?? 0) >= attempt.wseq) {
        this.violation(kind, 'outOfOrder', `round ${round}: ${stream} holds ${item.tag} after ${attempt.writer}:${lastWseq.get(attempt.writer)}`);
      }
      lastWseq.set(attempt.writer, attempt.wseq);
      if (attempt.id !== undefined && attempt.id !== item.id) {
        this.violation(kind, 'movedIds', `round ${round}: ${stream} holds ${item.tag} at id ${item.id}, acknowledged as ${attempt.id}`);
      }
      if (!attempt.verified) {
        if (attempt.acked) this.stats[kind].checked++;
        else this.stats[kind].inFlightStored++;
      }
      attempt.verified = true;
      attempt.id ??= item.id;
    });
    for (const [key, attempt] of this.attempts) {
      if (attempt.stream !== stream || seen.has(attempt.tag)) continue;
      if (attempt.acked || attempt.verified) {
        if (!attempt.lost) this.violation(kind, 'lost', `round ${round}: ${stream} lacks ${attempt.tag}${attempt.id === undefined ? '' : ` (id ${attempt.id})`}, ${attempt.acked ? 'acknowledged' : 'stored before'}`);
        attempt.lost = true;
      } else {
        // Cut by the kill and not stored: given up. From now on it must never appear.
        this.attempts.delete(key);
      }
    }
  }

  /** notify: the items just verified were acknowledged (read) and are gone from now on. */
  removeAll(stream: string, items: { id: number; tag: string }[]): void {
    for (const item of items) {
      const key = `${stream}|${item.tag}`;
      this.attempts.delete(key);
      this.removed.add(key);
      this.maxRemovedId.set(stream, Math.max(this.maxRemovedId.get(stream) ?? 0, item.id));
    }
  }

  countInFlight(): void {
    for (const attempt of this.attempts.values()) if (!attempt.acked && !attempt.verified) this.stats[attempt.kind].inFlight++;
  }
}

interface Users {
  ann: { token: string; id: number };
  bob: { token: string; id: number };
}

async function json(response: Response): Promise<any> {
  const text = await response.text();
  return text ? JSON.parse(text) : undefined;
}

function bearer(token: string): Record<string, string> {
  return { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
}

async function clientToken(base: string): Promise<string> {
  const answer = await fetch(`${base}/api/auth/token`, { method: 'POST', body: JSON.stringify({ client_id: clientId, client_secret: clientSecret }) });
  assert.equal(answer.status, 200);
  return (await json(answer)).access_token;
}

const notifyStreams = { nu1: 'notify:nu1', nu2: 'notify:nu2' } as const;
const notifyWriters: { writer: string; users: (keyof typeof notifyStreams)[] }[] = [
  { writer: 'n1', users: ['nu1'] },
  { writer: 'n2', users: ['nu2'] },
  { writer: 'ng', users: ['nu1', 'nu2'] },
];

/** Opens a socket; `onMessage` listens from the start, so a replay sent at once is not missed. */
function openWs(url: string, onMessage?: (data: WebSocket.RawData) => void): Promise<WebSocket> {
  const ws = new WebSocket(url);
  if (onMessage) ws.on('message', onMessage);
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
    ws.once('unexpected-response', (_request, response) => reject(new Error(`HTTP ${response.statusCode}`)));
  });
}

/** A socket of bob's that only receives; what it and bob's sending socket are given (live, or replayed as missed on connect) is noted. */
function receiving(wsBase: string, token: string, model: Model): Promise<WebSocket> {
  return openWs(`${wsBase}/dm/chats/ann?token=${token}`, noteReceived(model));
}

function noteReceived(model: Model): (data: WebSocket.RawData) => void {
  return (data) => {
    const frame = JSON.parse(data.toString()) as { id?: number; body?: string };
    if (typeof frame.id === 'number' && typeof frame.body === 'string') model.bobReceived.add(frame.id);
  };
}

/** Runs traffic on every hub until the server dies; returns when every writer has stopped. */
async function traffic(server: RunningFlashhub, users: Users, rooms: { general: string; private: string }, model: Model, killAfterMs: number): Promise<void> {
  const base = server.url;
  const wsBase = base.replace('http', 'ws');
  const client = await clientToken(base);
  let dead = false;
  void server.exited.then(() => (dead = true));

  const notifyWriter = async ({ writer, users: recipients }: (typeof notifyWriters)[number]) => {
    while (!dead) {
      const { tag, wseq } = model.next(writer);
      const attempts = recipients.map((user) => model.add('notify', notifyStreams[user], writer, wseq, tag));
      let status: number;
      try {
        const answer = await fetch(`${base}/api/message/notify`, { method: 'POST', headers: bearer(client), body: JSON.stringify({ users: recipients, payload: { tag } }) });
        status = answer.status;
        await answer.body?.cancel();
      } catch {
        return; // cut by the kill: in flight
      }
      assert.equal(status, 202, `notify ${tag}`);
      for (const attempt of attempts) model.ack(attempt);
    }
  };

  const chatWriter = async (writer: string, room: string, token: string) => {
    while (!dead) {
      const { tag, wseq } = model.next(writer);
      const attempt = model.add('chat', `chat:${room}`, writer, wseq, tag);
      let answer: Response;
      let body: any;
      try {
        answer = await fetch(`${base}/chat/room/${room}/messages`, { method: 'POST', headers: bearer(token), body: JSON.stringify({ message: tag }) });
        body = await json(answer);
      } catch {
        return;
      }
      assert.equal(answer.status, 201, `chat ${tag}: ${JSON.stringify(body)}`);
      model.ack(attempt, body.id);
    }
  };

  // dm: ann and bob write to each other; ann's "echo" socket sees both (her own messages from her
  // other socket, bob's as their recipient), and is where the acknowledgements come from.
  const dmStream = 'dm:ann-bob';
  const waiting = new Map<string, (id: number) => void>();
  const annEcho = await openWs(`${wsBase}/dm/chats/bob?token=${users.ann.token}`, (data) => {
    const frame = JSON.parse(data.toString()) as { body?: string; id?: number };
    if (typeof frame.body !== 'string' || typeof frame.id !== 'number') return;
    const known = model.attempts.get(`${dmStream}|${frame.body}`);
    if (known?.id !== undefined && known.id !== frame.id) model.violation('dm', 'movedIds', `a frame carries ${frame.body} with id ${frame.id}; the history has ${known.id}`);
    waiting.get(frame.body)?.(frame.id);
  });
  const echoClosed = new Promise<void>((resolve) => (annEcho.readyState === WebSocket.OPEN ? annEcho.once('close', () => resolve()) : resolve()));
  const annSend = await openWs(`${wsBase}/dm/chats/bob?token=${users.ann.token}`);
  const bobSend = await openWs(`${wsBase}/dm/chats/ann?token=${users.bob.token}`, noteReceived(model));
  const bobReceive = await receiving(wsBase, users.bob.token, model);
  const dmWriter = async (writer: string, socket: WebSocket) => {
    while (!dead && socket.readyState === WebSocket.OPEN) {
      const { tag, wseq } = model.next(writer);
      const attempt = model.add('dm', dmStream, writer, wseq, tag);
      const acked = new Promise<number | undefined>((resolve) => waiting.set(tag, resolve));
      socket.send(tag);
      const id = await Promise.race([acked, echoClosed.then(() => undefined)]);
      waiting.delete(tag);
      if (id === undefined) return;
      model.ack(attempt, id);
    }
  };

  // presence: stores nothing; bob's socket just receives.
  const annPresence = await openWs(`${wsBase}/presence/ws`);
  const bobPresence = await openWs(`${wsBase}/presence/ws`);
  annPresence.send(JSON.stringify({ type: 'HELLO', accesstoken: users.ann.token }));
  bobPresence.send(JSON.stringify({ type: 'HELLO', accesstoken: users.bob.token }));
  const presenceWriter = async () => {
    for (let n = 0; !dead && annPresence.readyState === WebSocket.OPEN; n++) {
      annPresence.send(JSON.stringify({ type: 'sendMessageToUser', id: users.bob.id, message: { n } }));
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  };

  const killer = new Promise<void>((resolve) =>
    setTimeout(() => {
      server.child.kill('SIGKILL');
      resolve();
    }, killAfterMs),
  );
  const writers = [
    ...notifyWriters.map((w) => notifyWriter(w)),
    chatWriter('cg-ann', rooms.general, users.ann.token),
    chatWriter('cg-bob', rooms.general, users.bob.token),
    chatWriter('cp-ann', rooms.private, users.ann.token),
    dmWriter('da', annSend),
    dmWriter('db', bobSend),
    presenceWriter(),
  ];
  await killer;
  await server.exited;
  const settled = await Promise.allSettled(writers);
  for (const socket of [annEcho, annSend, bobSend, bobReceive, annPresence, bobPresence]) socket.terminate();
  const failures = settled.filter((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failures.length > 0) throw failures[0]!.reason;
}

/** Checks every stream against the model on a freshly restarted server. */
async function check(server: RunningFlashhub, users: Users, rooms: { general: string; private: string }, model: Model, round: number): Promise<void> {
  const base = server.url;
  const client = await clientToken(base);

  // notify: a sentinel after the restart marks the end of each pending list.
  for (const user of ['nu1', 'nu2'] as const) {
    const stream = notifyStreams[user];
    const { tag, wseq } = model.next(`sentinel-${user}`);
    const sentinel = model.add('notify', stream, `sentinel-${user}`, wseq, tag);
    const posted = await fetch(`${base}/api/message/notify`, { method: 'POST', headers: bearer(client), body: JSON.stringify({ users: [user], payload: { tag } }) });
    assert.equal(posted.status, 202);
    model.ack(sentinel);
    const token = (await json(await fetch(`${base}/api/user/${user}/token`, { headers: bearer(client) }))).access_token as string;
    const sse = await openSse(`${base}/sse?token=${token}`);
    assert.equal(sse.status, 200);
    const items: { id: number; tag: string }[] = [];
    try {
      for (;;) {
        const event = await sse.next(10_000);
        const data = JSON.parse(event.data) as { id: string; payload: { tag?: string } | string };
        if (typeof data.payload !== 'object' || data.payload === null) continue; // the ping of an empty list
        items.push({ id: Number(data.id), tag: String(data.payload.tag) });
        if (data.payload.tag === tag) break;
      }
    } finally {
      sse.close();
    }
    model.verify('notify', stream, items, false, round);
    for (let i = 0; i < items.length; i += 1000) {
      const ids = items.slice(i, i + 1000).map((item) => item.id);
      const acked = await fetch(`${base}/api/message/acknowledge`, { method: 'POST', headers: bearer(token), body: JSON.stringify({ message_ids: ids }) });
      assert.equal(acked.status, 200);
      assert.equal((await json(acked)).acknowledged, ids.length, `round ${round}: every pending ${user} notification is acknowledged once`);
    }
    model.removeAll(stream, items);
  }

  // chat: whole histories, newest first in pages, turned oldest first.
  for (const room of [rooms.general, rooms.private]) {
    const newestFirst: { id: number; message: string }[] = [];
    for (let before: number | undefined; ; ) {
      const page = (await json(await fetch(`${base}/chat/room/${room}/messages?size=500${before === undefined ? '' : `&before=${before}`}`, { headers: bearer(users.ann.token) }))) as { id: number; message: string }[];
      if (page.length === 0) break;
      newestFirst.push(...page);
      before = page[page.length - 1]!.id;
      if (before <= 1) break;
    }
    model.verify('chat', `chat:${room}`, newestFirst.reverse().map((m) => ({ id: m.id, tag: m.message })), true, round);
  }

  // dm: the conversation, oldest first, paged forward.
  const conversation: { id: number; body: string }[] = [];
  for (let after = 0; ; ) {
    const page = (await json(await fetch(`${base}/dm/chats/bob/messages?after=${after}&limit=500`, { headers: bearer(users.ann.token) }))).content as { id: number; body: string }[];
    if (page.length === 0) break;
    conversation.push(...page);
    after = page[page.length - 1]!.id;
  }
  model.verify('dm', 'dm:ann-bob', conversation.map((m) => ({ id: m.id, tag: m.body })), true, round);
}

test('kill -9 at random moments under traffic on all four hubs: every acknowledged item survives exactly once, in order', { timeout: long ? 1_800_000 : 180_000 }, async (t) => {
  t.diagnostic(`seed ${seed} (FLASHHUB_CRASH_SEED=${seed} replays it), ${rounds} rounds`);
  const random = rng(seed);
  const dir = await tempDir();
  const env = { FLASHHUB_CLIENT_ID: clientId, FLASHHUB_CLIENT_SECRET: clientSecret, FLASHHUB_MESSAGES_PER_SECOND: '100000', FLASHHUB_LOGIN_ATTEMPTS_PER_MINUTE: '1000' };
  const model = new Model();
  let server = await startFlashhub(['--data', dir.path], { env });
  const started = Date.now();
  try {
    const register = async (username: string) => {
      const answer = await fetch(`${server.url}/dm/register`, { method: 'POST', body: JSON.stringify({ name: username, username, password }) });
      assert.equal(answer.status, 200);
      const token = (await json(answer)).content.token as string;
      const id = (await json(await fetch(`${server.url}/presence/users/me`, { headers: bearer(token) }))).data.id as number;
      return { token, id };
    };
    const users: Users = { ann: await register('ann'), bob: await register('bob') };
    const rooms = { general: '0', private: [users.ann.id, users.bob.id].sort((a, b) => a - b).join(':') };
    const killDelays: number[] = [];
    const phases = { traffic: 0, restart: 0, check: 0 };
    const timed = async <T>(phase: keyof typeof phases, body: () => Promise<T>): Promise<T> => {
      const start = Date.now();
      try {
        return await body();
      } finally {
        phases[phase] += Date.now() - start;
      }
    };
    for (let round = 1; round <= rounds; round++) {
      const killAfter = Math.round(minKillMs + random() * (maxKillMs - minKillMs));
      killDelays.push(killAfter);
      await timed('traffic', () => traffic(server, users, rooms, model, killAfter));
      model.countInFlight();
      server = await timed('restart', () => startFlashhub(['--data', dir.path], { env }));
      await timed('check', () => check(server, users, rooms, model, round));
      assert.deepEqual(model.violations, [], `seed ${seed}, round ${round}`);
    }
    // dm delivery: each of ann's stored messages reached one of bob's sockets at least once, live or
    // replayed as missed (cursors survive crashes: "a few messages may come again, never fewer").
    const bobLast = await receiving(server.url.replace('http', 'ws'), users.bob.token, model);
    const fromAnn = [...model.attempts.values()].filter((a) => a.writer === 'da' && a.verified && a.id !== undefined).map((a) => a.id!);
    for (const deadline = Date.now() + 10_000; Date.now() < deadline && fromAnn.some((id) => !model.bobReceived.has(id)); ) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    bobLast.terminate();
    const missed = fromAnn.filter((id) => !model.bobReceived.has(id));
    assert.equal(await server.stop(), 0, 'the last restart shuts down cleanly');
    const figures = model.stats;
    const seconds = (ms: number) => (ms / 1000).toFixed(1);
    t.diagnostic(`seed ${seed}: ${rounds} rounds in ${seconds(Date.now() - started)} s (traffic ${seconds(phases.traffic)} s, restarts ${seconds(phases.restart)} s, checks ${seconds(phases.check)} s), kills after ${killDelays.join(',')} ms`);
    for (const [kind, s] of Object.entries(figures)) {
      t.diagnostic(`${kind}: acknowledged ${s.acknowledged}, checked ${s.checked}, lost ${s.lost}, duplicated ${s.duplicated}, out of order ${s.outOfOrder}, unexpected ${s.unexpected}, resurrected ${s.resurrected}, moved ids ${s.movedIds}, id problems ${s.idProblems}; in flight at a kill ${s.inFlight}, of them stored ${s.inFlightStored}`);
    }
    t.diagnostic(`dm delivery: ${fromAnn.length} stored messages from ann, ${fromAnn.length - missed.length} reached bob's sockets, ${missed.length} never did${missed.length ? ` (ids ${missed.slice(0, 20).join(',')})` : ''}`);
    for (const [kind, s] of Object.entries(figures)) {
      assert.ok(s.acknowledged > 0, `${kind}: some traffic was acknowledged`);
      assert.equal(s.checked, s.acknowledged, `${kind}: every acknowledged item was checked (seed ${seed})`);
      for (const what of ['lost', 'duplicated', 'outOfOrder', 'unexpected', 'resurrected', 'movedIds', 'idProblems'] as const) {
        assert.equal(s[what], 0, `${kind}: ${what} (seed ${seed})`);
      }
    }
    assert.deepEqual(missed, [], `dm: every stored message reached its recipient at least once (seed ${seed})`);
  } finally {
    if (server.child.exitCode === null && server.child.signalCode === null) await server.stop('SIGKILL');
    await dir.remove();
  }
});
