// migrateStore between every pair of store kinds (file → redis, redis → file, and each into its own
// kind), over real stores: a real data directory and a real redis-server. What the target holds is
// checked through the Store interface the hubs use, not through the export it was copied with.

import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startRedis, type RedisServer } from '../../test/support/redis.ts';
import { FileStore } from './file/file-store.ts';
import { describeContents, migrateStore, PHASES, type Progress } from './migrate.ts';
import { RedisStore } from './redis/redis-store.ts';
import type { TransferableStore } from './transfer.ts';
import { StoreError, type Store } from './types.ts';

type Kind = 'file' | 'redis';

let redis: RedisServer;
const opened: Store[] = [];
const dirs: string[] = [];
let prefixes = 0;

before(async () => (redis = await startRedis()));
after(async () => {
  await Promise.allSettled(opened.map((s) => s.close()));
  await Promise.all(dirs.map((d) => fs.rm(d, { recursive: true, force: true })));
  await redis.stop();
});

async function fresh(kind: Kind): Promise<TransferableStore> {
  let store: TransferableStore;
  if (kind === 'redis') {
    store = await RedisStore.open({ url: redis.url, keyPrefix: `migrate-${++prefixes}:` });
  } else {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'flashhub-migrate-'));
    dirs.push(dir);
    store = await FileStore.open({ dir });
  }
  opened.push(store);
  return store;
}

const ROOMS = ['0', '1:2', 'dm:1:2', 'dm-cursors:1', 'odd{room}%25', 'trimmed', 'never'];
const USERS = [1, 2, 3, 4, 5, 6];

/** Something of everything, including what is easy to lose: gaps, deletions, trims, odd ids. */
async function populate(store: Store): Promise<void> {
  const { meta, messages, notifications } = store;
  await meta.createUser({ username: 'Adam', name: 'Adam A', passwordHash: 'scrypt$x', admin: true });
  await meta.createUser({ username: 'kyle', name: 'Kyle' });
  await meta.createUser({ username: 'gone', name: 'Gone' });
  await meta.createUser({ username: 'taylor@example.com', name: 'Taylor', admin: false });
  await meta.createUser({ username: 'last', name: 'Last' });
  await meta.deleteUser(5);
  await meta.deleteUser(3);
  await meta.putClient({ clientId: 'billing', secretHash: 'scrypt$y', createdAt: 11 });
  await meta.createGroup('ops', [2, 1]);
  await meta.createGroup('{odd}%', []);
  await meta.putRoom({ id: '0', kind: 'public', name: 'General', members: [1, 2, 4], createdAt: 1 });
  await meta.putRoom({ id: '1:2', kind: 'private', members: [1, 2], createdAt: 2 });
  await meta.putRoom({ id: 'dm:1:2', kind: 'dm', members: [1, 2], createdAt: 3 });
  for (let i = 1; i <= 1234; i += 100) {
    await Promise.all(Array.from({ length: Math.min(100, 1235 - i) }, (_, k) => messages.append('0', { from: 1 + ((i + k) % 2), text: `m${i + k}` })));
  }
  await messages.delete('0', 17);
  await messages.delete('0', 1234);
  for (let i = 0; i < 10; i++) await messages.append('dm:1:2', { from: 1 + (i % 2), text: `dm ${i}`, cid: `c${i}` });
  await messages.append('1:2', { from: 2, data: { card: { nested: [1, 'two'] } } });
  await messages.append('dm-cursors:1', { from: 1, data: { '1:2': 10 } });
  for (let i = 0; i < 3; i++) await messages.append('odd{room}%25', { from: 4, text: `odd ${i}` });
  for (let i = 0; i < 5; i++) await messages.append('trimmed', { from: 4, text: `t ${i}` });
  await messages.trim('trimmed', 2);
  const ns = await notifications.enqueue([1, 2, 4, 1], { hi: 'there' });
  await notifications.enqueue([2], 'plain');
  await notifications.ack(1, [ns[0]!.id]);
  await notifications.enqueue([6], { for: 'a user that does not exist yet' });
  await store.secret('signing', 32);
  await store.secret('extra', 16);
}

/** What the hubs can see of a store, through the Store interface only. */
async function view(store: Store): Promise<unknown> {
  const { meta, messages, notifications } = store;
  const histories: Record<string, unknown> = {};
  for (const room of ROOMS) {
    const pages = [];
    for (let after = 0; ; ) {
      const page = await messages.page(room, { afterSeq: after, limit: 500 });
      if (page.length === 0) break;
      pages.push(...page);
      after = page[page.length - 1]!.seq;
    }
    histories[room] = { latest: await messages.latestSeq(room), count: await messages.count(room), pages, newest: await messages.page(room, { limit: 15 }) };
  }
  const byUser: Record<number, unknown> = {};
  for (const user of USERS) {
    byUser[user] = {
      pending: await notifications.pending(user, { limit: 1000 }),
      rooms: (await meta.listUserRooms(user)).map((r) => r.id).sort(),
    };
  }
  return JSON.parse(
    JSON.stringify({
      users: await meta.listUsers(),
      byName: await meta.getUserByName('TAYLOR@example.com'),
      clients: await meta.listClients(),
      groups: await meta.listGroups(),
      rooms: await Promise.all(ROOMS.map((id) => meta.getRoom(id))),
      histories,
      byUser,
      secrets: [Buffer.from(await store.secret('signing', 32)).toString('hex'), Buffer.from(await store.secret('extra', 16)).toString('hex')],
    }),
  );
}

/** New ids after the migration: the same in the source and the target, and above every old one. */
async function nextIds(store: Store): Promise<unknown> {
  return {
    user: (await store.meta.createUser({ username: 'newcomer', name: 'N' })).id,
    notification: (await store.notifications.enqueue([1], 'new'))[0]!.id,
    seqs: await Promise.all(ROOMS.map(async (room) => (await store.messages.append(room, { from: 1, text: 'after' })).seq)),
    cidRetry: (await store.messages.append('dm:1:2', { from: 1, text: 'dm 9', cid: 'c9' })).seq,
  };
}

describe('migrateStore', () => {
  const pairs: [Kind, Kind][] = [
    ['file', 'redis'],
    ['redis', 'file'],
    ['file', 'file'],
    ['redis', 'redis'],
  ];
  for (const [fromKind, toKind] of pairs) {
    test(`${fromKind} → ${toKind}: the target shows the same records, histories, notifications, secrets and next ids`, async () => {
      const source = await fresh(fromKind);
      await populate(source);
      const target = await fresh(toKind);
      const events: Progress[] = [];
      const counts = await migrateStore(source, target, (p) => events.push({ ...p }));

      assert.deepEqual(counts, { users: 3, clients: 1, groups: 2, rooms: 3, histories: 6, messages: 1232 + 10 + 1 + 1 + 3 + 2, notifications: 5, secrets: 2 });
      assert.deepEqual(await view(target), await view(source));
      assert.deepEqual(await nextIds(target), await nextIds(source));

      const finished = events.filter((e) => e.finished);
      assert.deepEqual(finished.map((e) => e.phase), [...PHASES], 'every phase once, in order');
      for (const e of finished) assert.deepEqual([e.done, e.total], [counts[e.phase], counts[e.phase]], e.phase);
      const messageEvents = events.filter((e) => e.phase === 'messages').map((e) => e.done);
      assert.ok(messageEvents.length > 4, 'messages report progress page by page');
      assert.deepEqual(messageEvents, [...messageEvents].sort((a, b) => a - b), 'progress only grows');
    });
  }

  test('refuses a target that holds anything, even only a secret or used ids, and leaves it unchanged', async () => {
    const source = await fresh('file');
    await populate(source);
    for (const kind of ['file', 'redis'] as const) {
      const withSecret = await fresh(kind);
      const secret = await withSecret.secret('signing', 32);
      await assert.rejects(migrateStore(source, withSecret), (e) => e instanceof StoreError && e.code === 'EEXIST' && /holds 1 secret/.test(e.message));
      assert.deepEqual(await withSecret.secret('signing', 32), secret);
      assert.equal(await describeContents(withSecret.export), '1 secret');

      const emptied = await fresh(kind);
      await emptied.meta.deleteUser((await emptied.meta.createUser({ username: 'x', name: 'x' })).id);
      await assert.rejects(migrateStore(source, emptied), /used user or notification ids/);
      assert.equal((await emptied.meta.listUsers()).total, 0);
    }
  });
});
