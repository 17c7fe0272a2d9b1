// The Store contract as tests: every implementation runs this same suite (file-store.contract.test.ts,
// redis-store.contract.test.ts), so hubs can rely on one behaviour whichever store is configured.
// It states what the file store does; behaviour specific to one store (locks, torn tails, Redis
// outages) stays in that store's own tests.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { TransferableStore } from './transfer.ts';
import { StoreError, type Notification, type Store, type StoredMessage } from './types.ts';

export interface ContractSubject {
  store: TransferableStore;
  /**
   * Opens another Store over the same data (users, history, secrets...). The contract closes
   * `store` first, so single-writer stores can take their lock again.
   */
  reopen?(): Promise<TransferableStore>;
  /** Closes every store opened for this subject and removes its data. */
  cleanup(): Promise<void>;
}

export interface ContractOptions {
  /** Test name → why it is expected to fail for this store (run as todo, reported, not fatal). */
  knownBugs?: Record<string, string>;
}

type Open = () => Promise<ContractSubject>;

const seqs = (ms: StoredMessage[]): number[] => ms.map((m) => m.seq);
const ids = (xs: { id: number | string }[]): (number | string)[] => xs.map((x) => x.id);
const range = (a: number, b: number): number[] => Array.from({ length: b - a + 1 }, (_, i) => a + i);
const sorted = <T>(xs: T[]): T[] => [...xs].sort();
const isCode = (code: string) => (e: unknown): boolean => e instanceof StoreError && e.code === code;

/** Every page an export yields, and the pages' sizes. */
async function collect<T>(pages: AsyncIterable<T[]>): Promise<{ items: T[]; sizes: number[] }> {
  const out = { items: [] as T[], sizes: [] as number[] };
  for await (const page of pages) {
    out.items.push(...page);
    out.sizes.push(page.length);
  }
  return out;
}
const all = async <T>(pages: AsyncIterable<T[]>): Promise<T[]> => (await collect(pages)).items;
const byId = <T extends { id: number | string }>(xs: T[]): T[] => [...xs].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));

/** n messages `m1`..`mn`, appended concurrently in batches (seqs follow call order). */
async function fill(store: Store, room: string, n: number, from = 1): Promise<void> {
  for (let i = 1; i <= n; i += 100) {
    await Promise.all(range(i, Math.min(n, i + 99)).map((k) => store.messages.append(room, { from, text: `m${k}` })));
  }
}

export function storeContract(name: string, open: Open, options: ContractOptions = {}): void {
  describe(`Store contract: ${name}`, () => {
    const it = (title: string, fn: (s: ContractSubject) => Promise<void>, needs: { reopen?: boolean } = {}): void => {
      const todo = options.knownBugs?.[title];
      test(title, todo === undefined ? {} : { todo }, async (t) => {
        const subject = await open();
        try {
          if (needs.reopen && !subject.reopen) t.skip('this subject cannot reopen its data');
          else await fn(subject);
        } finally {
          await subject.cleanup();
        }
      });
    };
    const reopen = async (s: ContractSubject): Promise<TransferableStore> => {
      if (!s.reopen) throw new Error('this subject cannot reopen its data');
      await s.store.close();
      return s.reopen();
    };

    // ---- users

    it('users: ids start at 1 and increase; lookups by id and by name in any case; records are copies', async ({ store }) => {
      const m = store.meta;
      const a = await m.createUser({ username: 'Alice', name: 'Alice A', passwordHash: 'h', admin: true });
      const b = await m.createUser({ username: 'bob', name: 'Bob' });
      assert.equal(a.id, 1);
      assert.equal(b.id, 2);
      assert.deepEqual({ ...a, createdAt: 0 }, { id: 1, username: 'Alice', name: 'Alice A', passwordHash: 'h', admin: true, createdAt: 0 });
      assert.equal(typeof a.createdAt, 'number');
      assert.equal('passwordHash' in b, false);
      assert.equal('admin' in b, false);
      assert.deepEqual(await m.getUser(1), a);
      assert.deepEqual(await m.getUserByName('ALICE'), a);
      assert.deepEqual(await m.getUserByName('alice'), a);
      assert.equal(await m.getUserByName('nobody'), undefined);
      assert.equal(await m.getUser(99), undefined);
      a.name = 'mutated';
      (await m.getUser(1))!.name = 'mutated too';
      assert.equal((await m.getUser(1))?.name, 'Alice A');
    });

    it('users: a username taken in any case is EEXIST, also when created concurrently; the case given is kept', async ({ store }) => {
      const m = store.meta;
      const results = await Promise.allSettled(range(1, 20).map((i) => m.createUser({ username: i % 2 ? 'Dave' : 'dave', name: `D${i}` })));
      const ok = results.filter((r) => r.status === 'fulfilled');
      const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      assert.equal(ok.length, 1);
      for (const f of failed) assert.ok(isCode('EEXIST')(f.reason), String(f.reason));
      const winner = (ok[0] as PromiseFulfilledResult<{ username: string; id: number }>).value;
      assert.equal((await m.getUserByName('DAVE'))?.username, winner.username, 'the case given at creation is kept');
      await assert.rejects(m.createUser({ username: 'DaVe', name: 'again' }), isCode('EEXIST'));
      assert.equal((await m.listUsers()).total, 1);
      assert.equal((await m.createUser({ username: 'erin', name: 'E' })).id, winner.id + 1, 'a clash takes no id');
    });

    it('users: ids are never reused; listUsers pages by id with a total', async ({ store }) => {
      const m = store.meta;
      for (const u of ['u1', 'u2', 'u3', 'u4', 'u5']) await m.createUser({ username: u, name: u });
      assert.equal(await m.deleteUser(5), true);
      assert.equal((await m.createUser({ username: 'u6', name: 'u6' })).id, 6, 'id 5 was deleted, not reusable');
      const all = await m.listUsers();
      assert.deepEqual([all.total, ids(all.items)], [5, [1, 2, 3, 4, 6]]);
      const page = await m.listUsers({ offset: 1, limit: 2 });
      assert.deepEqual([page.total, ids(page.items)], [5, [2, 3]]);
      assert.deepEqual(ids((await m.listUsers({ offset: 4 })).items), [6]);
      assert.deepEqual(ids((await m.listUsers({ offset: 9 })).items), []);
      assert.deepEqual(await m.listUsers({ limit: 0 }), { items: [], total: 5 });
    });

    it('users: updateUser patches name and admin, undefined removes a field, unknown ids give undefined', async ({ store }) => {
      const m = store.meta;
      const u = await m.createUser({ username: 'frank', name: 'F', passwordHash: 'x' });
      const v = await m.updateUser(u.id, { name: 'Frank', passwordHash: undefined, admin: true });
      assert.deepEqual(v, { id: u.id, username: 'frank', name: 'Frank', admin: true, createdAt: u.createdAt });
      assert.deepEqual(await m.getUser(u.id), v);
      const w = await m.updateUser(u.id, { admin: undefined, passwordHash: 'y' });
      assert.deepEqual(w, { id: u.id, username: 'frank', name: 'Frank', passwordHash: 'y', createdAt: u.createdAt });
      assert.deepEqual(await m.updateUser(u.id, {}), w);
      assert.equal(await m.updateUser(999, { name: 'nobody' }), undefined);
      assert.equal(await m.getUser(999), undefined);
    });

    it('users: deleteUser leaves every group and room and frees the username', async ({ store }) => {
      const m = store.meta;
      const a = await m.createUser({ username: 'a', name: 'A' });
      const b = await m.createUser({ username: 'b', name: 'B' });
      await m.createGroup('g', [a.id, b.id]);
      await m.createGroup('h', [a.id]);
      await m.putRoom({ id: '0', kind: 'public', name: 'General', members: [a.id, b.id], createdAt: 1 });
      await m.putRoom({ id: '1:2', kind: 'private', members: [a.id, b.id], createdAt: 2 });
      assert.deepEqual(sorted(ids(await m.listUserRooms(a.id))), ['0', '1:2']);
      assert.equal(await m.deleteUser(a.id), true);
      assert.equal(await m.deleteUser(a.id), false);
      assert.equal(await m.getUser(a.id), undefined);
      assert.equal(await m.getUserByName('a'), undefined);
      assert.deepEqual((await m.getGroup('g'))?.members, [b.id]);
      assert.deepEqual((await m.getGroup('h'))?.members, []);
      assert.deepEqual((await m.getRoom('0'))?.members, [b.id]);
      assert.deepEqual((await m.getRoom('1:2'))?.members, [b.id]);
      assert.deepEqual(await m.listUserRooms(a.id), []);
      assert.deepEqual(sorted(ids(await m.listUserRooms(b.id))), ['0', '1:2']);
      assert.equal((await m.createUser({ username: 'A', name: 'new A' })).id, 3, 'the name is free, the id is not');
      assert.equal(await m.deleteUser(42), false);
    });

    // ---- API clients

    it('clients: putClient refuses a taken id with EEXIST; get, list by id, delete', async ({ store }) => {
      const m = store.meta;
      await m.putClient({ clientId: 'svc-b', secretHash: 's', createdAt: 1 });
      await m.putClient({ clientId: 'svc-a', secretHash: 't', createdAt: 2 });
      await assert.rejects(m.putClient({ clientId: 'svc-b', secretHash: 'u', createdAt: 3 }), isCode('EEXIST'));
      assert.deepEqual(await m.getClient('svc-b'), { clientId: 'svc-b', secretHash: 's', createdAt: 1 });
      assert.equal(await m.getClient('nope'), undefined);
      assert.deepEqual((await m.listClients()).map((c) => c.clientId), ['svc-a', 'svc-b']);
      assert.equal(await m.deleteClient('svc-b'), true);
      assert.equal(await m.deleteClient('svc-b'), false);
      assert.deepEqual((await m.listClients()).map((c) => c.clientId), ['svc-a']);
    });

    // ---- groups

    it('groups: members are a set in the order given; EEXIST; add and remove members; list by id; delete', async ({ store }) => {
      const m = store.meta;
      const g = await m.createGroup('a-team', [3, 1, 3, 2]);
      assert.deepEqual([g.id, g.members, typeof g.createdAt], ['a-team', [3, 1, 2], 'number']);
      assert.deepEqual(await m.getGroup('a-team'), g);
      await assert.rejects(m.createGroup('a-team'), isCode('EEXIST'));
      assert.deepEqual((await m.createGroup('b-team')).members, []);
      assert.equal(await m.getGroup('nope'), undefined);
      assert.equal(await m.addGroupMember('nope', 1), false);
      assert.equal(await m.addGroupMember('b-team', 7), true);
      assert.equal(await m.addGroupMember('b-team', 7), true, 'already a member is still true');
      assert.equal(await m.addGroupMember('b-team', 5), true);
      assert.deepEqual((await m.getGroup('b-team'))?.members, [7, 5], 'join order');
      assert.equal(await m.removeGroupMember('b-team', 7), true);
      assert.equal(await m.removeGroupMember('b-team', 7), false);
      assert.equal(await m.removeGroupMember('nope', 7), false);
      await m.createGroup('c-team', [9]);
      const page = await m.listGroups({ offset: 1, limit: 1 });
      assert.deepEqual([page.total, ids(page.items)], [3, ['b-team']]);
      assert.deepEqual(page.items[0]?.members, [5]);
      assert.deepEqual(ids((await m.listGroups()).items), ['a-team', 'b-team', 'c-team']);
      assert.equal(await m.deleteGroup('a-team'), true);
      assert.equal(await m.deleteGroup('a-team'), false);
      assert.equal(await m.getGroup('a-team'), undefined);
      assert.deepEqual((await m.listGroups()).total, 2);
      const again = await m.createGroup('a-team', [4]);
      assert.deepEqual(again.members, [4], 'a deleted group leaves no members behind');
      assert.deepEqual((await m.getGroup('a-team'))?.members, [4]);
    });

    // ---- rooms

    it('rooms: putRoom creates or replaces (members a set), addRoomMember, listUserRooms follows', async ({ store }) => {
      const m = store.meta;
      assert.equal(await m.getRoom('r'), undefined);
      assert.equal(await m.addRoomMember('r', 1), false, 'no such room');
      await m.putRoom({ id: 'r', kind: 'public', name: 'R', members: [2, 1, 2], createdAt: 5 });
      assert.deepEqual(await m.getRoom('r'), { id: 'r', kind: 'public', name: 'R', members: [2, 1], createdAt: 5 });
      await m.putRoom({ id: 'dm:1:2', kind: 'dm', members: [1, 2], createdAt: 6 });
      const dm = await m.getRoom('dm:1:2');
      assert.equal(dm && 'name' in dm, false, 'no name stays no name');
      assert.equal(await m.addRoomMember('r', 7), true);
      assert.equal(await m.addRoomMember('r', 7), true);
      assert.deepEqual((await m.getRoom('r'))?.members, [2, 1, 7]);
      assert.deepEqual(ids(await m.listUserRooms(7)), ['r']);
      assert.deepEqual(sorted(ids(await m.listUserRooms(1))), ['dm:1:2', 'r']);
      const listed = (await m.listUserRooms(1)).find((r) => r.id === 'r');
      assert.deepEqual(listed, await m.getRoom('r'));
      // Replacing a room replaces its members, and the per-user index follows.
      await m.putRoom({ id: 'r', kind: 'private', members: [8], createdAt: 9 });
      assert.deepEqual(await m.getRoom('r'), { id: 'r', kind: 'private', members: [8], createdAt: 9 });
      assert.deepEqual(await m.listUserRooms(7), []);
      assert.deepEqual(ids(await m.listUserRooms(1)), ['dm:1:2']);
      assert.deepEqual(ids(await m.listUserRooms(8)), ['r']);
      assert.deepEqual(await m.listUserRooms(99), []);
    });

    const plainIds = async (store: Store, list: string[]): Promise<void> => {
      const m = store.meta;
      for (const id of list) {
        await m.putClient({ clientId: id, secretHash: 's', createdAt: 1 });
        await assert.rejects(m.putClient({ clientId: id, secretHash: 't', createdAt: 2 }), isCode('EEXIST'), `client ${id} again`);
        assert.deepEqual(await m.getClient(id), { clientId: id, secretHash: 's', createdAt: 1 }, `client ${id}`);
        await m.createGroup(id, [1]);
        assert.deepEqual((await m.getGroup(id))?.members, [1], `group ${id}`);
        await m.putRoom({ id, kind: 'public', members: [1], createdAt: 1 });
        assert.deepEqual((await m.getRoom(id))?.members, [1], `room ${id}`);
        assert.equal((await store.messages.append(id, { from: 1, text: id })).seq, 1, `history of ${id}`);
      }
      assert.deepEqual(sorted((await m.listClients()).map((c) => c.clientId)), sorted(list));
      assert.deepEqual(sorted(ids((await m.listGroups()).items)), sorted(list));
      assert.deepEqual(sorted(ids(await m.listUserRooms(1))), sorted(list));
    };

    it('ids are plain strings: constructor, braces and percent signs work as group, room and client ids', async ({ store }) => {
      await plainIds(store, ['constructor', 'toString', 'a{b}c', 'x%7By', 'a}b{']);
      assert.equal(await store.messages.count('a{b}c'), 1);
      assert.equal(await store.messages.count('a%7Bb%7Dc'), 0, 'escaped and raw ids stay apart');
    });

    it('ids are plain strings: __proto__ works as a group, room and client id', async ({ store }) => {
      await plainIds(store, ['__proto__']);
    });

    // ---- messages

    it('messages: each room counts from 1; a stored message has room, seq, ts, from and what was given', async ({ store }) => {
      const s = store.messages;
      assert.equal(await s.latestSeq('r'), 0);
      assert.equal(await s.count('r'), 0);
      assert.deepEqual(await s.page('r'), []);
      assert.equal(await s.get('r', 1), undefined);
      const a = await s.append('r', { from: 7, text: 'hello' });
      assert.deepEqual({ ...a, ts: 0 }, { room: 'r', seq: 1, from: 7, text: 'hello', ts: 0 });
      assert.ok(Math.abs(a.ts - Date.now()) < 60_000, 'ts is a wall-clock ms timestamp');
      const b = await s.append('r', { from: 8, data: { kind: 'file', sizes: [1, 2] } });
      assert.equal(b.seq, 2);
      assert.equal('text' in b, false);
      assert.equal((await s.append('other', { from: 1, text: 'x' })).seq, 1, 'per room');
      assert.deepEqual(await s.get('r', 1), a);
      assert.deepEqual(await s.get('r', 2), b);
      const got = await s.get('r', 2);
      (got!.data as { sizes: number[] }).sizes.push(3);
      assert.deepEqual((await s.get('r', 2))?.data, { kind: 'file', sizes: [1, 2] }, 'callers get copies');
      assert.equal(await s.latestSeq('r'), 2);
      assert.equal(await s.count('r'), 2);
    });

    it('messages: identical texts stay separate messages; concurrent appends get gap-free seqs in call order', async ({ store }) => {
      const s = store.messages;
      const [a, b] = await Promise.all([s.append('x', { from: 1, text: 'same' }), s.append('x', { from: 1, text: 'same' })]);
      assert.deepEqual([a.seq, b.seq], [1, 2]);
      const many = await Promise.all(range(1, 200).map((i) => s.append('x', { from: 2, text: `t${i}` })));
      assert.deepEqual(seqs(many), range(3, 202));
      assert.deepEqual((await s.page('x', { afterSeq: 0, limit: 3 })).map((m) => m.text), ['same', 'same', 't1']);
      assert.equal(await s.count('x'), 202);
    });

    it('messages: page is ascending; newest 50 by default; beforeSeq/afterSeq bounds; limit is 1..500', async ({ store }) => {
      const s = store.messages;
      await fill(store, 'r', 620);
      assert.deepEqual(seqs(await s.page('r')), range(571, 620), 'newest 50, ascending');
      assert.deepEqual(seqs(await s.page('r', { beforeSeq: 571 })), range(521, 570));
      assert.deepEqual(seqs(await s.page('r', { beforeSeq: 3 })), [1, 2]);
      assert.deepEqual(seqs(await s.page('r', { beforeSeq: 1 })), []);
      assert.deepEqual(seqs(await s.page('r', { afterSeq: 0, limit: 10 })), range(1, 10));
      assert.deepEqual(seqs(await s.page('r', { afterSeq: 615 })), range(616, 620));
      assert.deepEqual(seqs(await s.page('r', { afterSeq: 620 })), []);
      assert.deepEqual(seqs(await s.page('r', { afterSeq: 10, beforeSeq: 15 })), range(11, 14));
      assert.deepEqual(seqs(await s.page('r', { afterSeq: 10, beforeSeq: 100, limit: 3 })), [11, 12, 13], 'afterSeq wins: oldest above it');
      assert.deepEqual(seqs(await s.page('r', { beforeSeq: 100, limit: 3 })), [97, 98, 99]);
      assert.equal((await s.page('r', { limit: 10_000 })).length, 500, 'limit is capped at 500');
      assert.deepEqual(seqs(await s.page('r', { afterSeq: 0, limit: 10_000 })), range(1, 500));
      assert.deepEqual(seqs(await s.page('r', { limit: 0 })), [620], 'limit is at least 1');
      assert.deepEqual(seqs(await s.page('r', { limit: Number.NaN })), range(571, 620), 'a non-number limit is the default');
      assert.equal((await s.get('r', 300))?.text, 'm300');
      assert.deepEqual(await s.page('nope'), []);
    });

    it('messages: a retry with the same cid returns the original, also concurrently; cids are per room', async ({ store }) => {
      const s = store.messages;
      const [a, b] = await Promise.all([s.append('r', { from: 1, text: 'hi', cid: 'c1' }), s.append('r', { from: 1, text: 'hi', cid: 'c1' })]);
      assert.equal(a.seq, 1);
      assert.deepEqual(b, a, 'a retry while the first is in flight returns the first');
      assert.deepEqual(await s.append('r', { from: 1, text: 'changed text', cid: 'c1' }), a, 'the original, not the retry');
      assert.equal((await s.append('other', { from: 1, text: 'hi', cid: 'c1' })).seq, 1, 'cids are per room');
      assert.equal((await s.append('r', { from: 1, text: 'second', cid: 'c2' })).seq, 2);
      assert.equal((await s.append('r', { from: 1, text: 'no cid' })).seq, 3);
      assert.equal(await s.count('r'), 3);
      // Once its original is gone, a cid is just a new message.
      assert.equal(await s.delete('r', 1), true);
      const c = await s.append('r', { from: 1, text: 'hi again', cid: 'c1' });
      assert.equal(c.seq, 4);
      assert.deepEqual(await s.append('r', { from: 1, text: 'hi again', cid: 'c1' }), c);
    });

    it('messages: delete is true once; the message leaves get, page and count; seqs are not reused', async ({ store }) => {
      const s = store.messages;
      await fill(store, 'r', 10);
      assert.equal(await s.delete('r', 5), true);
      assert.equal(await s.delete('r', 5), false);
      assert.equal(await s.delete('r', 99), false);
      assert.equal(await s.delete('nope', 1), false);
      assert.equal(await s.get('r', 5), undefined);
      assert.equal(await s.count('r'), 9);
      assert.deepEqual(seqs(await s.page('r', { afterSeq: 3, limit: 3 })), [4, 6, 7]);
      assert.equal(await s.delete('r', 10), true);
      assert.equal(await s.latestSeq('r'), 10, 'deleting the newest keeps the seq');
      assert.equal((await s.append('r', { from: 1, text: 'next' })).seq, 11);
    });

    it('messages: trim keeps the newest N live ones and returns how many went; seqs keep counting', async ({ store }) => {
      const s = store.messages;
      await fill(store, 'r', 100);
      await s.delete('r', 95);
      assert.equal(await s.trim('r', 10), 89, '99 live, keep 10');
      assert.equal(await s.count('r'), 10);
      assert.deepEqual(seqs(await s.page('r', { afterSeq: 0 })), [90, 91, 92, 93, 94, 96, 97, 98, 99, 100]);
      assert.equal(await s.trim('r', 10), 0);
      assert.equal(await s.trim('r', 50), 0);
      assert.equal(await s.trim('nope', 0), 0);
      await assert.rejects(s.trim('r', -1), isCode('EINVAL'));
      await assert.rejects(s.trim('r', 1.5), isCode('EINVAL'));
      assert.equal(await s.trim('r', 0), 10);
      assert.equal(await s.count('r'), 0);
      assert.deepEqual(await s.page('r'), []);
      assert.equal(await s.latestSeq('r'), 100);
      assert.equal((await s.append('r', { from: 1, text: 'after' })).seq, 101);
    });

    it('messages: an unserialisable message is EINVAL and takes no seq', async ({ store }) => {
      const s = store.messages;
      await assert.rejects(s.append('r', { from: 1, data: { n: 1n } }), isCode('EINVAL'));
      assert.equal((await s.append('r', { from: 1, text: 'ok' })).seq, 1);
    });

    // ---- notifications

    it('notifications: one per user with global increasing ids; pending oldest first, afterId and limit', async ({ store }) => {
      const n = store.notifications;
      assert.deepEqual(await n.enqueue([], 'nobody'), []);
      const first = await n.enqueue([1, 2, 1], { kind: 'hello', n: 1 });
      assert.deepEqual(first.map((x) => x.user), [1, 2, 1]);
      const fid = first.map((x) => x.id);
      assert.ok(fid[0]! < fid[1]! && fid[1]! < fid[2]!, `increasing: ${fid}`);
      for (const x of first) assert.deepEqual(x.payload, { kind: 'hello', n: 1 });
      const [again] = await n.enqueue([1], { kind: 'again' });
      const [bare] = await n.enqueue([1], undefined);
      assert.ok(again!.id > fid[2]! && bare!.id > again!.id);
      const p = await n.pending(1);
      assert.deepEqual(ids(p), [fid[0], fid[2], again!.id, bare!.id]);
      assert.deepEqual(p[0], first[0]);
      assert.equal(p[3]?.payload, undefined);
      assert.deepEqual(ids(await n.pending(1, { afterId: fid[2] })), [again!.id, bare!.id]);
      assert.deepEqual(ids(await n.pending(1, { afterId: fid[0], limit: 2 })), [fid[2], again!.id]);
      assert.deepEqual(ids(await n.pending(2)), [fid[1]]);
      assert.deepEqual(await n.pending(42), []);
      (p[0]!.payload as { n: number }).n = 99;
      assert.deepEqual((await n.pending(1))[0]?.payload, { kind: 'hello', n: 1 }, 'callers get copies');
    });

    it('notifications: pending limit defaults to 100 and is capped at 1000', async ({ store }) => {
      const n = store.notifications;
      const all = await n.enqueue(Array.from({ length: 1200 }, () => 7), 'x');
      assert.equal(all.length, 1200);
      assert.equal((await n.pending(7)).length, 100);
      assert.equal((await n.pending(7, { limit: 5000 })).length, 1000);
      assert.equal((await n.pending(7, { limit: 0 })).length, 1);
      assert.deepEqual(ids(await n.pending(7, { afterId: all[1198]!.id })), [all[1199]!.id]);
    });

    it("notifications: ack counts only the acking user's pending ids, each once", async ({ store }) => {
      const n = store.notifications;
      const [a, b] = await n.enqueue([1, 2], 'p');
      assert.equal(await n.ack(2, [a!.id]), 0, "not user 2's notification");
      assert.deepEqual(ids(await n.pending(1)), [a!.id]);
      const [r1, r2] = await Promise.all([n.ack(1, [a!.id, a!.id, 999_999]), n.ack(1, [a!.id])]);
      assert.equal(r1 + r2, 1, 'racing acks of one id count it once');
      assert.equal(await n.ack(1, [a!.id]), 0);
      assert.equal(await n.ack(1, []), 0);
      assert.deepEqual(await n.pending(1), []);
      assert.deepEqual(ids(await n.pending(2)), [b!.id]);
    });

    it('notifications: clear drops everything pending for one user', async ({ store }) => {
      const n = store.notifications;
      await n.enqueue([1, 1, 2, 1], 'x');
      assert.equal(await n.clear(1), 3);
      assert.equal(await n.clear(1), 0);
      assert.deepEqual(await n.pending(1), []);
      assert.equal((await n.pending(2)).length, 1);
      const [later] = await n.enqueue([1], 'y');
      assert.deepEqual(ids(await n.pending(1)), [later!.id], 'a cleared user still gets new ones');
    });

    it('notifications: an unserialisable payload is EINVAL', async ({ store }) => {
      await assert.rejects(store.notifications.enqueue([1], { n: 1n }), isCode('EINVAL'));
      assert.deepEqual(await store.notifications.pending(1), []);
    });

    // ---- secrets, stats

    it('secret: created once with the size asked, the same bytes for every caller; names are checked', async ({ store }) => {
      const all = await Promise.all(range(1, 8).map(() => store.secret('jwt', 32)));
      for (const s of all) assert.deepEqual(s, all[0]);
      assert.ok(all[0] instanceof Uint8Array);
      assert.equal(all[0]!.length, 32);
      assert.notDeepEqual(await store.secret('other', 32), all[0]);
      assert.equal((await store.secret('short.one_2', 1)).length, 1);
      for (const bad of ['../evil', '', '.hidden', 'a/b', 'x'.repeat(129)]) await assert.rejects(store.secret(bad, 32), isCode('EINVAL'), bad);
      for (const size of [0, -1, 1.5, 65 * 1024]) await assert.rejects(store.secret('sized', size), isCode('EINVAL'), String(size));
    });

    it('stats: counts live messages and pending notifications as writes happen', async ({ store }) => {
      const zero = store.stats();
      for (const k of ['messages', 'pendingNotifications', 'segments', 'bytes'] as const) {
        assert.ok(Number.isFinite(zero[k]) && zero[k] >= 0, `${k} = ${zero[k]}`);
      }
      assert.equal(zero.messages, 0);
      assert.equal(zero.pendingNotifications, 0);
      await fill(store, 'a', 5);
      await fill(store, 'b', 3);
      await store.messages.append('a', { from: 1, text: 'dup', cid: 'k' });
      await store.messages.append('a', { from: 1, text: 'dup', cid: 'k' });
      assert.equal(store.stats().messages, 9, 'a cid retry adds nothing');
      await store.messages.delete('a', 1);
      await store.messages.trim('b', 1);
      assert.equal(store.stats().messages, 6);
      const ns = await store.notifications.enqueue([1, 2, 3], 'x');
      assert.equal(store.stats().pendingNotifications, 3);
      await store.notifications.ack(1, [ns[0]!.id]);
      await store.notifications.clear(2);
      assert.equal(store.stats().pendingNotifications, 1);
    });

    // ---- persistence and lifecycle

    it('everything written survives a reopen: records, indexes, history, cids, notifications, secrets', async (subject) => {
      let store = subject.store;
      const u = await store.meta.createUser({ username: 'Keep', name: 'K', passwordHash: 'h' });
      await store.meta.createUser({ username: 'gone', name: 'G' });
      await store.meta.deleteUser(2);
      await store.meta.putClient({ clientId: 'svc', secretHash: 's', createdAt: 1 });
      await store.meta.createGroup('g', [u.id, 5]);
      await store.meta.putRoom({ id: 'r', kind: 'public', name: 'R', members: [u.id], createdAt: 2 });
      await fill(store, 'r', 30);
      const withCid = await store.messages.append('r', { from: u.id, text: 'once', cid: 'c' });
      await store.messages.delete('r', 3);
      await store.messages.trim('r', 20);
      const ns = await store.notifications.enqueue([u.id, u.id], { hi: 1 });
      await store.notifications.ack(u.id, [ns[0]!.id]);
      const [acked] = await store.notifications.enqueue([9], 'acked');
      await store.notifications.ack(9, [acked!.id]);
      const secret = await store.secret('signing', 32);
      const page = await store.messages.page('r', { afterSeq: 0 });

      store = await reopen(subject);
      assert.deepEqual(await store.meta.getUserByName('keep'), u);
      assert.equal((await store.meta.createUser({ username: 'next', name: 'N' })).id, 3, 'ids are not reused after a reopen');
      await assert.rejects(store.meta.createUser({ username: 'KEEP', name: 'x' }), isCode('EEXIST'));
      assert.deepEqual(await store.meta.getClient('svc'), { clientId: 'svc', secretHash: 's', createdAt: 1 });
      assert.deepEqual((await store.meta.getGroup('g'))?.members, [u.id, 5]);
      assert.deepEqual(ids(await store.meta.listUserRooms(u.id)), ['r']);
      assert.deepEqual(await store.messages.page('r', { afterSeq: 0 }), page);
      assert.equal(await store.messages.count('r'), 20);
      assert.equal(await store.messages.latestSeq('r'), 31);
      assert.deepEqual(await store.messages.append('r', { from: u.id, text: 'once', cid: 'c' }), withCid, 'the cid is remembered');
      assert.equal((await store.messages.append('r', { from: u.id, text: 'new' })).seq, 32);
      assert.deepEqual(await store.notifications.pending(u.id), [ns[1]]);
      assert.deepEqual(await store.notifications.pending(9), [], 'an ack never comes back');
      const [next] = await store.notifications.enqueue([9], 'later');
      assert.ok(next!.id > acked!.id, 'notification ids keep increasing, even when nothing was pending');
      assert.deepEqual(await store.secret('signing', 32), secret);
      assert.equal(store.stats().messages, 21);
      assert.equal(store.stats().pendingNotifications, 2);
    }, { reopen: true });

    // ---- transfer (flashhub migrate)

    it('export: every record, every room with history (internal ones too), pending notifications, secrets, counters', async ({ store }) => {
      const { meta, messages, notifications } = store;
      const a = await meta.createUser({ username: 'Ann', name: 'A', passwordHash: 'h', admin: true });
      const b = await meta.createUser({ username: 'bob', name: 'B', admin: false });
      await meta.deleteUser((await meta.createUser({ username: 'gone', name: 'G' })).id);
      await meta.putClient({ clientId: 'svc', secretHash: 's', createdAt: 7 });
      const g = await meta.createGroup('g', [b.id, a.id]);
      await meta.putRoom({ id: '0', kind: 'public', name: 'General', members: [a.id, b.id], createdAt: 3 });
      await meta.putRoom({ id: 'dm:1:2', kind: 'dm', members: [a.id, b.id], createdAt: 4 });
      await meta.putRoom({ id: 'quiet', kind: 'private', members: [], createdAt: 5 });
      await fill(store, '0', 1200, a.id);
      await messages.append('0', { from: b.id, data: { x: [1] }, cid: 'c1' });
      await messages.delete('0', 1201);
      await messages.delete('0', 7);
      await messages.append('dm-cursors:1', { from: a.id, data: { '1:2': 4 } });
      await messages.append('emptied', { from: a.id, text: 'x' });
      await messages.trim('emptied', 0);
      const ns = await notifications.enqueue([a.id, b.id, a.id], { hi: 1 });
      await notifications.ack(a.id, [ns[0]!.id]);
      const secret = await store.secret('signing', 32);

      const exp = store.export;
      assert.deepEqual(await exp.inventory(), { users: 2, clients: 1, groups: 1, rooms: 3, histories: 3, messages: 1200, notifications: 2, secrets: 1 });
      assert.deepEqual(await all(exp.users()), [a, b]);
      assert.deepEqual(await all(exp.clients()), [{ clientId: 'svc', secretHash: 's', createdAt: 7 }]);
      assert.deepEqual(await all(exp.groups()), [g]);
      assert.deepEqual(
        JSON.parse(JSON.stringify(byId(await all(exp.rooms())))),
        [
          { id: '0', kind: 'public', name: 'General', members: [a.id, b.id], createdAt: 3 },
          { id: 'dm:1:2', kind: 'dm', members: [a.id, b.id], createdAt: 4 },
          { id: 'quiet', kind: 'private', members: [], createdAt: 5 },
        ],
        'rooms without members too',
      );
      const histories = (await all(exp.histories())).sort((x, y) => (x.room < y.room ? -1 : 1));
      assert.deepEqual(histories, [
        { room: '0', lastSeq: 1201, messages: 1199 },
        { room: 'dm-cursors:1', lastSeq: 1, messages: 1 },
        { room: 'emptied', lastSeq: 1, messages: 0 },
      ]);
      const history = await collect(exp.messages('0'));
      assert.deepEqual(history.sizes, [500, 500, 199], 'pages of at most 500');
      assert.deepEqual(seqs(history.items), [...range(1, 6), ...range(8, 1200)]);
      assert.deepEqual(history.items.slice(0, 6), await messages.page('0', { afterSeq: 0, limit: 6 }));
      assert.deepEqual(await all(exp.messages('emptied')), []);
      assert.deepEqual((await all(exp.notifications())).sort((x, y) => x.id - y.id), [ns[1], ns[2]]);
      assert.deepEqual(await all(exp.secrets()), [{ name: 'signing', value: secret }]);
      assert.deepEqual(await exp.counters(), { nextUserId: 4, nextNotificationId: 4 });
    });

    it('export: notifications of many users come in pages of at most 1000', async ({ store }) => {
      const users = range(1, 30);
      for (let i = 0; i < 40; i++) await store.notifications.enqueue(users, i);
      const got = await collect(store.export.notifications());
      assert.deepEqual(got.sizes, [1000, 200]);
      assert.equal(new Set(got.items.map((n) => n.id)).size, 1200);
    });

    it('import: keeps ids, createdAt, seqs, timestamps and cids; new ids and seqs continue above them', async ({ store }) => {
      const { meta, messages, notifications } = store;
      const imp = store.import;
      const eve = { id: 5, username: 'Eve', name: 'E', passwordHash: 'h', admin: false, createdAt: 111 };
      const nine = { id: 9, username: 'nine', name: 'N', createdAt: 222 };
      await imp.users([eve, nine]);
      assert.deepEqual(await meta.getUser(5), eve);
      assert.deepEqual(await meta.getUserByName('EVE'), eve);
      assert.deepEqual(await meta.listUsers(), { items: [eve, nine], total: 2 });
      await imp.clients([{ clientId: 'svc', secretHash: 's', createdAt: 5 }]);
      assert.deepEqual(await meta.getClient('svc'), { clientId: 'svc', secretHash: 's', createdAt: 5 });
      await imp.groups([{ id: 'g', members: [9, 5], createdAt: 333 }]);
      assert.deepEqual(await meta.getGroup('g'), { id: 'g', members: [9, 5], createdAt: 333 });
      await imp.rooms([{ id: 'r', kind: 'private', members: [9, 5], createdAt: 444 }]);
      assert.deepEqual(await meta.listUserRooms(5), [{ id: 'r', kind: 'private', members: [9, 5], createdAt: 444 }]);

      const old: StoredMessage[] = [
        { room: 'r', seq: 3, ts: 1000, from: 5, text: 'old', cid: 'k' },
        { room: 'r', seq: 7, ts: 2000, from: 9, data: { a: [1, 'x'] } },
      ];
      await imp.messages('r', old);
      await imp.messages('r', [{ room: 'r', seq: 8, ts: 3000, from: 5, text: 'later' }]);
      await imp.roomSeq('r', 10);
      await imp.roomSeq('r', 4);
      await imp.roomSeq('cursor-only', 6);
      assert.deepEqual(await messages.page('r', { afterSeq: 0 }), [...old, { room: 'r', seq: 8, ts: 3000, from: 5, text: 'later' }]);
      assert.deepEqual(await messages.get('r', 7), old[1]);
      assert.equal(await messages.count('r'), 3);
      assert.equal(await messages.latestSeq('r'), 10, 'roomSeq raises, never lowers');
      assert.deepEqual(await messages.append('r', { from: 5, text: 'retry', cid: 'k' }), old[0], 'imported cids are known');
      assert.equal((await messages.append('r', { from: 5, text: 'new' })).seq, 11);
      assert.equal((await messages.append('cursor-only', { from: 5, text: 'new' })).seq, 7);

      const pending: Notification[] = [
        { id: 40, user: 5, ts: 10, payload: { p: 1 } },
        { id: 41, user: 9, ts: 11, payload: 'x' },
        { id: 42, user: 5, ts: 12, payload: undefined },
      ];
      await imp.notifications(pending);
      assert.deepEqual(await notifications.pending(5), [pending[0], pending[2]]);
      assert.equal(await notifications.ack(9, [41]), 1);
      const value = new Uint8Array(32).fill(7);
      await imp.secrets([{ name: 'signing', value }]);
      await imp.secrets([{ name: 'signing', value }]);
      assert.deepEqual(await store.secret('signing', 32), value);

      await imp.counters({ nextUserId: 12, nextNotificationId: 50 });
      await imp.counters({ nextUserId: 2, nextNotificationId: 2 });
      assert.deepEqual(await store.export.counters(), { nextUserId: 12, nextNotificationId: 50 }, 'counters rise, never fall');
      assert.equal((await meta.createUser({ username: 'new', name: 'N' })).id, 12);
      assert.equal((await notifications.enqueue([5], 'n'))[0]!.id, 50);
      assert.equal(store.stats().messages, 5);
    });

    it('import: refuses what exists (EEXIST) and seqs that do not ascend (EINVAL), and writes nothing then', async ({ store }) => {
      const { meta, messages, notifications } = store;
      const imp = store.import;
      await meta.createUser({ username: 'ann', name: 'A' });
      await assert.rejects(imp.users([{ id: 1, username: 'other', name: 'O', createdAt: 1 }]), isCode('EEXIST'), 'id taken');
      await assert.rejects(imp.users([{ id: 2, username: 'ANN', name: 'O', createdAt: 1 }]), isCode('EEXIST'), 'name taken');
      assert.deepEqual(ids((await meta.listUsers()).items), [1]);
      await meta.createGroup('g', [1]);
      await assert.rejects(imp.groups([{ id: 'g', members: [2], createdAt: 1 }]), isCode('EEXIST'));
      assert.deepEqual((await meta.getGroup('g'))?.members, [1]);
      await meta.putClient({ clientId: 'svc', secretHash: 's', createdAt: 1 });
      await assert.rejects(imp.clients([{ clientId: 'svc', secretHash: 'other', createdAt: 2 }]), isCode('EEXIST'));
      assert.equal((await meta.getClient('svc'))?.secretHash, 's');

      await messages.append('r', { from: 1, text: 'x' });
      await assert.rejects(imp.messages('r', [{ room: 'r', seq: 1, ts: 1, from: 1, text: 'clash' }]), isCode('EINVAL'));
      await assert.rejects(
        imp.messages('r', [
          { room: 'r', seq: 3, ts: 1, from: 1 },
          { room: 'r', seq: 2, ts: 1, from: 1 },
        ]),
        isCode('EINVAL'),
      );
      assert.deepEqual(seqs(await messages.page('r')), [1]);
      assert.equal(await messages.latestSeq('r'), 1);

      const [n] = await notifications.enqueue([1], 'p');
      await assert.rejects(imp.notifications([{ id: n!.id, user: 1, ts: 1, payload: 'clash' }]), isCode('EEXIST'));
      assert.deepEqual(await notifications.pending(1), [n]);
      const secret = await store.secret('signing', 32);
      await assert.rejects(imp.secrets([{ name: 'signing', value: new Uint8Array(32) }]), isCode('EEXIST'));
      assert.deepEqual(await store.secret('signing', 32), secret);
    });

    it('import: everything imported survives a reopen, the raised counters and seqs too', async (subject) => {
      let store = subject.store;
      await store.import.users([{ id: 3, username: 'c', name: 'C', createdAt: 1 }]);
      await store.import.groups([{ id: 'g', members: [3], createdAt: 2 }]);
      await store.import.messages('r', [{ room: 'r', seq: 2, ts: 5, from: 3, text: 't', cid: 'k' }]);
      await store.import.roomSeq('r', 9);
      await store.import.roomSeq('internal', 4);
      await store.import.notifications([{ id: 8, user: 3, ts: 6, payload: [1] }]);
      await store.import.secrets([{ name: 'signing', value: new Uint8Array(32).fill(1) }]);
      await store.import.counters({ nextUserId: 20, nextNotificationId: 30 });

      store = await reopen(subject);
      assert.deepEqual(await store.meta.getUserByName('C'), { id: 3, username: 'c', name: 'C', createdAt: 1 });
      assert.deepEqual(await store.meta.getGroup('g'), { id: 'g', members: [3], createdAt: 2 });
      assert.deepEqual(await store.messages.page('r'), [{ room: 'r', seq: 2, ts: 5, from: 3, text: 't', cid: 'k' }]);
      assert.deepEqual(await store.notifications.pending(3), [{ id: 8, user: 3, ts: 6, payload: [1] }]);
      assert.deepEqual(await store.secret('signing', 32), new Uint8Array(32).fill(1));
      assert.deepEqual(await store.export.inventory(), { users: 1, clients: 0, groups: 1, rooms: 0, histories: 2, messages: 1, notifications: 1, secrets: 1 });
      assert.equal((await store.messages.append('r', { from: 3, text: 'again', cid: 'k' })).seq, 2, 'the cid is remembered');
      assert.equal((await store.messages.append('r', { from: 3 })).seq, 10);
      assert.equal((await store.messages.append('internal', { from: 3 })).seq, 5);
      assert.equal((await store.meta.createUser({ username: 'd', name: 'D' })).id, 20);
      assert.equal((await store.notifications.enqueue([3], 'x'))[0]!.id, 30);
    }, { reopen: true });

    it('close: idempotent; afterwards every call rejects with ECLOSED', async ({ store }) => {
      await store.messages.append('r', { from: 1, text: 'x' });
      await Promise.all([store.close(), store.close()]);
      await store.close();
      const calls: [string, () => Promise<unknown>][] = [
        ['createUser', () => store.meta.createUser({ username: 'z', name: 'z' })],
        ['getUser', () => store.meta.getUser(1)],
        ['getRoom', () => store.meta.getRoom('r')],
        ['append', () => store.messages.append('r', { from: 1 })],
        ['page', () => store.messages.page('r')],
        ['enqueue', () => store.notifications.enqueue([1], 'x')],
        ['pending', () => store.notifications.pending(1)],
        ['secret', () => store.secret('k', 32)],
      ];
      for (const [what, call] of calls) await assert.rejects(call(), isCode('ECLOSED'), what);
    });
  });
}
