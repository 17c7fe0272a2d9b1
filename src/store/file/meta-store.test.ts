import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { FileMetaStore } from './meta-store.ts';
import { StoreError } from '../types.ts';
import { withTmpDir } from './test-util.ts';

const open = (dir: string): Promise<FileMetaStore> => FileMetaStore.open({ file: path.join(dir, 'meta.json') });

test('user ids start at 1, increase, and are never reused (also across reopen)', () =>
  withTmpDir(async (dir) => {
    let m = await open(dir);
    const a = await m.createUser({ username: 'alice', name: 'Alice' });
    const b = await m.createUser({ username: 'bob', name: 'Bob', passwordHash: 'h', admin: true });
    assert.equal(a.id, 1);
    assert.equal(b.id, 2);
    assert.equal(b.passwordHash, 'h');
    assert.equal(await m.deleteUser(2), true);
    await m.close();
    m = await open(dir);
    const c = await m.createUser({ username: 'carol', name: 'Carol' });
    assert.equal(c.id, 3, 'id 2 was deleted, not reusable');
    assert.deepEqual((await m.listUsers()).items.map((u) => u.id), [1, 3]);
    await m.close();
  }));

test('usernames are unique case-insensitively, keep their case, and resist concurrent creation', () =>
  withTmpDir(async (dir) => {
    const m = await open(dir);
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) => m.createUser({ username: i % 2 ? 'Dave' : 'dave', name: `D${i}` })),
    );
    const ok = results.filter((r) => r.status === 'fulfilled');
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    assert.equal(ok.length, 1);
    assert.equal(failed.length, 19);
    for (const f of failed) assert.ok(f.reason instanceof StoreError && f.reason.code === 'EEXIST');
    const u = await m.getUserByName('DAVE');
    assert.equal(u?.username, 'dave', 'the case given at creation is kept');
    assert.equal((await m.listUsers()).total, 1);
    await m.close();
    // and the survivor is on disk
    const again = await open(dir);
    assert.equal((await again.getUserByName('dave'))?.name, 'D0');
    await again.close();
  }));

test('returned records are copies', () =>
  withTmpDir(async (dir) => {
    const m = await open(dir);
    const u = await m.createUser({ username: 'eve', name: 'Eve' });
    u.name = 'mutated';
    const g = await m.createGroup('ops', [u.id]);
    g.members.push(99);
    (await m.getGroup('ops'))!.members.push(98);
    assert.equal((await m.getUser(u.id))?.name, 'Eve');
    assert.deepEqual((await m.getGroup('ops'))?.members, [u.id]);
    await m.close();
  }));

test('updateUser patches fields and can remove the password', () =>
  withTmpDir(async (dir) => {
    const m = await open(dir);
    const u = await m.createUser({ username: 'frank', name: 'F', passwordHash: 'x' });
    const v = await m.updateUser(u.id, { name: 'Frank', passwordHash: undefined });
    assert.equal(v?.name, 'Frank');
    assert.equal('passwordHash' in (v ?? {}), false);
    assert.equal(await m.updateUser(999, { name: 'nobody' }), undefined);
    await m.close();
  }));

test('deleteUser cascades to groups and rooms; the username becomes free', () =>
  withTmpDir(async (dir) => {
    const m = await open(dir);
    const a = await m.createUser({ username: 'a', name: 'A' });
    const b = await m.createUser({ username: 'b', name: 'B' });
    await m.createGroup('g', [a.id, b.id]);
    await m.putRoom({ id: '0', kind: 'public', name: 'General', members: [a.id, b.id], createdAt: 1 });
    await m.putRoom({ id: '1:2', kind: 'private', members: [a.id, b.id], createdAt: 2 });
    assert.deepEqual((await m.listUserRooms(a.id)).map((r) => r.id), ['0', '1:2']);
    assert.equal(await m.deleteUser(a.id), true);
    assert.equal(await m.deleteUser(a.id), false);
    assert.deepEqual((await m.getGroup('g'))?.members, [b.id]);
    assert.deepEqual((await m.getRoom('0'))?.members, [b.id]);
    assert.deepEqual((await m.getRoom('1:2'))?.members, [b.id]);
    assert.deepEqual(await m.listUserRooms(a.id), []);
    assert.equal((await m.createUser({ username: 'A', name: 'new A' })).id, 3);
    await m.close();
    const again = await open(dir);
    assert.deepEqual((await again.getRoom('0'))?.members, [b.id]);
    assert.deepEqual((await again.listUserRooms(b.id)).map((r) => r.id), ['0', '1:2']);
    await again.close();
  }));

test('clients, groups and rooms: EEXIST, membership, listing, persistence', () =>
  withTmpDir(async (dir) => {
    const m = await open(dir);
    await m.putClient({ clientId: 'svc', secretHash: 's', createdAt: 1 });
    await assert.rejects(m.putClient({ clientId: 'svc', secretHash: 't', createdAt: 2 }), { code: 'EEXIST' });
    await m.createGroup('b-team');
    await m.createGroup('a-team', [1, 1, 2]);
    await assert.rejects(m.createGroup('a-team'), { code: 'EEXIST' });
    assert.deepEqual((await m.getGroup('a-team'))?.members, [1, 2], 'members are a set');
    assert.equal(await m.addGroupMember('nope', 1), false);
    assert.equal(await m.addGroupMember('b-team', 3), true);
    assert.equal(await m.addGroupMember('b-team', 3), true);
    assert.equal(await m.removeGroupMember('b-team', 3), true);
    assert.equal(await m.removeGroupMember('b-team', 3), false);
    const page = await m.listGroups({ offset: 1, limit: 1 });
    assert.deepEqual([page.total, page.items.map((g) => g.id)], [2, ['b-team']]);
    assert.equal(await m.addRoomMember('r', 1), false);
    await m.putRoom({ id: 'r', kind: 'public', members: [], createdAt: 5 });
    assert.equal(await m.addRoomMember('r', 7), true);
    assert.deepEqual((await m.listUserRooms(7)).map((r) => r.id), ['r']);
    // putRoom replaces: membership index follows
    await m.putRoom({ id: 'r', kind: 'public', members: [8], createdAt: 5 });
    assert.deepEqual(await m.listUserRooms(7), []);
    assert.equal(await m.deleteClient('svc'), true);
    assert.equal(await m.deleteGroup('a-team'), true);
    await m.close();
    await assert.rejects(m.getUser(1), { code: 'ECLOSED' });
    const again = await open(dir);
    assert.deepEqual(await again.listClients(), []);
    assert.deepEqual((await again.listGroups()).items.map((g) => g.id), ['b-team']);
    assert.deepEqual((await again.getRoom('r'))?.members, [8]);
    await again.close();
    const doc = JSON.parse(await fs.readFile(path.join(dir, 'meta.json'), 'utf8')) as { version: number; nextUserId: number };
    assert.equal(doc.version, 1);
  }));

test('a damaged metadata document refuses to open', () =>
  withTmpDir(async (dir) => {
    const file = path.join(dir, 'meta.json');
    await fs.writeFile(file, JSON.stringify({ version: 7, users: {} }));
    await assert.rejects(open(dir), (e: unknown) => e instanceof StoreError && e.code === 'ECORRUPT' && e.message.includes(file));
    await fs.writeFile(file, '');
    await assert.rejects(open(dir), { code: 'ECORRUPT' });
  }));
