// What only the Redis store has: key layout, several nodes on one Redis, and Redis going away.
// The shared behaviour is in ../contract.ts. Every test uses a real redis-server.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { startRedis, type RedisServer } from '../../../test/support/redis.ts';
import type { StoreEvent } from '../file/fsutil.ts';
import { StoreError, type StoredMessage } from '../types.ts';
import { CID_WINDOW } from './message-store.ts';
import { RedisStore } from './redis-store.ts';

let redis: RedisServer;
let raw: Redis;
let prefixes = 0;
const nextPrefix = (): string => `t${++prefixes}:`;

before(async () => {
  redis = await startRedis();
  raw = new Redis(redis.url, { lazyConnect: true });
  await raw.connect();
});
after(async () => {
  raw.disconnect();
  await redis.stop();
});

async function keysUnder(prefix: string): Promise<string[]> {
  const out: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await raw.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    out.push(...batch);
    cursor = next;
  } while (cursor !== '0');
  return out.sort();
}

test('every key is under the prefix, with the hash tag of what it belongs to', async () => {
  const before = await raw.dbsize();
  const prefix = 'layout:';
  const s = await RedisStore.open({ url: redis.url, keyPrefix: prefix });
  const u = await s.meta.createUser({ username: 'Ann', name: 'A' });
  await s.meta.putClient({ clientId: 'svc', secretHash: 'h', createdAt: 1 });
  await s.meta.createGroup('g', [u.id]);
  await s.meta.putRoom({ id: 'lobby', kind: 'public', members: [u.id], createdAt: 1 });
  await s.messages.append('lobby', { from: u.id, text: 'hi', cid: 'c1' });
  await s.messages.append('odd{room}', { from: u.id, text: 'hi' });
  await s.notifications.enqueue([u.id], { x: 1 });
  await s.secret('signing', 32);
  await s.close();
  const keys = await keysUnder(prefix);
  assert.equal(await raw.dbsize(), before + keys.length, 'no key outside the prefix');
  assert.deepEqual(keys, [
    'layout:{meta}:clients',
    'layout:{meta}:group-members:g',
    'layout:{meta}:group:g',
    'layout:{meta}:groups',
    'layout:{meta}:order',
    'layout:{meta}:room-members:lobby',
    'layout:{meta}:room:lobby',
    'layout:{meta}:secret:signing',
    'layout:{meta}:user-groups:1',
    'layout:{meta}:user-next',
    'layout:{meta}:user-rooms:1',
    'layout:{meta}:user:1',
    'layout:{meta}:username:ann',
    'layout:{meta}:users',
    'layout:{notif}:next',
    'layout:{notif}:pending',
    'layout:{notif}:user:1',
    'layout:{room:lobby}:cids',
    'layout:{room:lobby}:msgs',
    'layout:{room:lobby}:seq',
    'layout:{room:odd%7Broom%7D}:msgs',
    'layout:{room:odd%7Broom%7D}:seq',
    'layout:{stats}:messages',
  ]);
  // Messages are scored by seq and carry it, so the member is unique.
  const [member, score] = await raw.zrange('layout:{room:lobby}:msgs', '0', '-1', 'WITHSCORES');
  assert.equal(score, '1');
  assert.deepEqual({ ...JSON.parse(member as string), ts: 0 }, { seq: 1, ts: 0, from: 1, cid: 'c1', text: 'hi' });
  await assert.rejects(RedisStore.open({ url: redis.url, keyPrefix: 'bad{' }), (e: unknown) => e instanceof StoreError && e.code === 'EINVAL');
});

test('two nodes on one Redis share users, history, notifications and secrets without clashes', async () => {
  const keyPrefix = nextPrefix();
  const [a, b] = await Promise.all([RedisStore.open({ url: redis.url, keyPrefix, statsIntervalMs: 50 }), RedisStore.open({ url: redis.url, keyPrefix, statsIntervalMs: 50 })]);
  try {
    const secrets = await Promise.all([a.secret('signing', 32), b.secret('signing', 32), a.secret('signing', 32), b.secret('signing', 32)]);
    for (const s of secrets) assert.deepEqual(s, secrets[0], 'every node signs with the same key');

    const users = await Promise.allSettled([a, b, a, b].map((s, i) => s.meta.createUser({ username: i % 2 ? 'Zed' : 'zed', name: `Z${i}` })));
    assert.equal(users.filter((r) => r.status === 'fulfilled').length, 1);

    const appended = await Promise.all(Array.from({ length: 400 }, (_, i) => (i % 2 ? a : b).messages.append('shared', { from: i, text: 'same' })));
    assert.deepEqual(appended.map((m) => m.seq).sort((x, y) => x - y), Array.from({ length: 400 }, (_, i) => i + 1), 'gap-free, no seq twice');
    const first = await a.messages.append('shared', { from: 1, text: 'once', cid: 'k' });
    assert.deepEqual(await b.messages.append('shared', { from: 1, text: 'once', cid: 'k' }), first, 'a retry through another node');

    const ns = (await Promise.all(Array.from({ length: 50 }, (_, i) => (i % 2 ? a : b).notifications.enqueue([1, 2], i)))).flat();
    assert.equal(new Set(ns.map((n) => n.id)).size, 100, 'ids are global');
    const pending = await b.notifications.pending(1, { limit: 1000 });
    assert.equal(pending.length, 50);
    assert.deepEqual(pending.map((n) => n.id), [...pending.map((n) => n.id)].sort((x, y) => x - y));

    await a.notifications.ack(1, pending.map((n) => n.id));
    // Each node sees the other's writes in its stats after a refresh or two.
    await waitFor(async () => b.stats().messages === 401 && b.stats().pendingNotifications === 50 && a.stats().messages === 401);
  } finally {
    await Promise.all([a.close(), b.close()]);
  }
});

test('cids are remembered for the newest CID_WINDOW messages of a room', async () => {
  const s = await RedisStore.open({ url: redis.url, keyPrefix: nextPrefix() });
  try {
    for (let i = 0; i <= CID_WINDOW; i += 256) {
      await Promise.all(Array.from({ length: Math.min(256, CID_WINDOW + 1 - i) }, (_, j) => s.messages.append('r', { from: 1, cid: `c${i + j}` })));
    }
    assert.equal(await raw.zcard(`${s.keyPrefix}{room:r}:cids`), CID_WINDOW);
    assert.equal((await s.messages.append('r', { from: 1, cid: 'c1' })).seq, 2, 'still in the window');
    assert.equal((await s.messages.append('r', { from: 1, cid: 'c0' })).seq, CID_WINDOW + 2, 'the oldest fell out: a new message');
  } finally {
    await s.close();
  }
});

test('while Redis is down calls reject at once and nothing crashes; after a restart acknowledged writes are all there', async (t) => {
  const server = await startRedis();
  const events: StoreEvent[] = [];
  const s = await RedisStore.open({ url: server.url, report: (e) => events.push(e), statsIntervalMs: 100 });
  try {
    await s.meta.createUser({ username: 'kept', name: 'K' });
    // 32 writers append until their first failure; Redis dies under them.
    const acked: { seq: number; text?: string }[] = [];
    const writer = async (w: number): Promise<void> => {
      for (let i = 0; ; i++) acked.push(await s.messages.append('r', { from: w, text: `w${w}-${i}` }));
    };
    const writers = Array.from({ length: 32 }, (_, w) => writer(w).catch((err: unknown) => err));
    await new Promise((r) => setTimeout(r, 150));
    const t0 = Date.now();
    await server.kill('SIGKILL');
    const failures = await Promise.all(writers);
    assert.ok(Date.now() - t0 < 2000, `writers stopped ${Date.now() - t0} ms after the kill`);
    // "try again later", which the hubs answer with 503, never a verdict on the data (EEXIST...)
    assert.ok(failures.every((e) => e instanceof StoreError && e.code === 'EUNAVAILABLE'), `EUNAVAILABLE, got ${String(failures[0])}`);
    assert.ok(acked.length > 0);

    for (const call of [() => s.messages.append('r', { from: 1 }), () => s.meta.getUser(1), () => s.notifications.pending(1), () => s.secret('k', 32)]) {
      const t = Date.now();
      await assert.rejects(call(), (e: unknown) => e instanceof StoreError && e.code === 'EUNAVAILABLE');
      assert.ok(Date.now() - t < 500, `rejected after ${Date.now() - t} ms`);
    }
    assert.equal(typeof s.stats().messages, 'number', 'stats still answer');
    await new Promise((r) => setTimeout(r, 300)); // a few reconnect attempts and stats refreshes
    assert.equal(events.filter((e) => e.event === 'redis_unavailable').length, 1, 'reported once per outage');

    await server.restart();
    await waitFor(async () => (await s.meta.getUser(1).catch(() => undefined)) !== undefined);
    assert.ok(events.some((e) => e.event === 'redis_reconnected'));
    assert.equal((await s.meta.getUser(1))?.username, 'kept');
    const stored: StoredMessage[] = [];
    for (let after = 0, page; (page = await s.messages.page('r', { afterSeq: after, limit: 500 })).length > 0; after = page.at(-1)!.seq) stored.push(...page);
    const bySeq = new Map(stored.map((m) => [m.seq, m.text]));
    for (const m of acked) assert.equal(bySeq.get(m.seq), m.text, `acknowledged seq ${m.seq} survived`);
    t.diagnostic(`${acked.length} appends acknowledged before the kill, ${stored.length} stored after the restart`);
    assert.equal((await s.messages.append('r', { from: 1, text: 'after' })).seq, (await s.messages.latestSeq('r')), 'seqs continue');
  } finally {
    await s.close();
    await server.stop();
  }
});

test('open rejects promptly when nothing listens, and warns when Redis has no AOF', async () => {
  const server = await startRedis();
  const { url } = server;
  try {
    const admin = new Redis(url);
    await admin.config('SET', 'appendonly', 'no');
    const events: StoreEvent[] = [];
    const s = await RedisStore.open({ url, report: (e) => events.push(e) });
    assert.equal(events.find((e) => e.event === 'redis_not_durable')?.level, 'warn');
    await s.close();
    admin.disconnect();
  } finally {
    await server.stop();
  }
  const t = Date.now();
  await assert.rejects(RedisStore.open({ url }));
  assert.ok(Date.now() - t < 3000, `${Date.now() - t} ms`);
});

async function waitFor(ok: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const until = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > until) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 50));
  }
}
