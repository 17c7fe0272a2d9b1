import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { FileNotificationStore, type NotificationStoreOptions } from './notification-store.ts';
import { recorder, withTmpDir } from './test-util.ts';

const open = (dir: string, o: Partial<NotificationStoreOptions> = {}): Promise<FileNotificationStore> =>
  FileNotificationStore.open({ dir: path.join(dir, 'notifications'), ...o });
const ids = (ns: { id: number }[]): number[] => ns.map((n) => n.id);

test('enqueue gives one notification per user with increasing ids; pending is oldest first', () =>
  withTmpDir(async (dir) => {
    const s = await open(dir);
    const first = await s.enqueue([1, 2, 1], { kind: 'hello', n: 1 });
    assert.deepEqual(ids(first), [1, 2, 3]);
    assert.deepEqual(first.map((n) => n.user), [1, 2, 1]);
    await s.enqueue([1], { kind: 'again' });
    await s.enqueue([1], undefined);
    const p = await s.pending(1);
    assert.deepEqual(ids(p), [1, 3, 4, 5]);
    assert.deepEqual(p[0]?.payload, { kind: 'hello', n: 1 });
    assert.equal(p[3]?.payload, undefined);
    assert.deepEqual(ids(await s.pending(1, { afterId: 3 })), [4, 5]);
    assert.deepEqual(ids(await s.pending(1, { afterId: 1, limit: 2 })), [3, 4]);
    assert.deepEqual(await s.pending(42), []);
    (p[0]!.payload as { n: number }).n = 99;
    assert.deepEqual((await s.pending(1))[0]?.payload, { kind: 'hello', n: 1 }, 'callers get copies');
    await s.close();
  }));

test('pending limit defaults to 100 and is capped at 1000', () =>
  withTmpDir(async (dir) => {
    const s = await open(dir);
    await s.enqueue(Array.from({ length: 1200 }, () => 7), 'x');
    assert.equal((await s.pending(7)).length, 100);
    assert.equal((await s.pending(7, { limit: 5000 })).length, 1000);
    await s.close();
  }));

test('ack counts only the acking user\'s pending ids; a user can never ack another user\'s', () =>
  withTmpDir(async (dir) => {
    let s = await open(dir);
    const [a, b] = await s.enqueue([1, 2], 'p');
    assert.equal(await s.ack(2, [a!.id]), 0, 'not user 2\'s notification');
    assert.deepEqual(ids(await s.pending(1)), [a!.id]);
    const [r1, r2] = await Promise.all([s.ack(1, [a!.id, a!.id, 999]), s.ack(1, [a!.id])]);
    assert.equal(r1 + r2, 1, 'racing acks of one id count it once');
    assert.equal(await s.ack(1, [a!.id]), 0);
    assert.deepEqual(await s.pending(1), []);
    await s.close();
    s = await open(dir);
    assert.deepEqual(await s.pending(1), [], 'an ack never comes back');
    assert.deepEqual(ids(await s.pending(2)), [b!.id]);
    await s.close();
  }));

test('clear drops everything pending for a user', () =>
  withTmpDir(async (dir) => {
    let s = await open(dir);
    await s.enqueue([1, 1, 2, 1], 'x');
    assert.equal(await s.clear(1), 3);
    assert.equal(await s.clear(1), 0);
    assert.equal((await s.pending(2)).length, 1);
    await s.close();
    s = await open(dir);
    assert.deepEqual(await s.pending(1), []);
    assert.equal((await s.pending(2)).length, 1);
    assert.equal(s.stats().pending, 1);
    await s.close();
  }));

test('ids keep increasing across reopen, even when nothing is pending', () =>
  withTmpDir(async (dir) => {
    let s = await open(dir);
    const [n] = await s.enqueue([1], 'x');
    await s.ack(1, [n!.id]);
    await s.close();
    s = await open(dir);
    const [m] = await s.enqueue([1], 'y');
    assert.ok(m!.id > n!.id);
    await s.close();
  }));

test('snapshot compaction keeps exactly the pending set, and ids keep increasing', () =>
  withTmpDir(async (dir) => {
    const rec = recorder();
    const o = { snapshotMinRecords: 100, report: rec.report, segmentBytes: 4096 };
    let s = await open(dir, o);
    const keep: number[] = [];
    let lastId = 0;
    for (let round = 0; round < 30; round++) {
      const ns = await s.enqueue([1, 2, 3, 4], { round });
      lastId = ns[3]!.id;
      keep.push(ns[0]!.id); // user 1 never acks
      await s.ack(2, [ns[1]!.id]);
      await s.ack(3, [ns[2]!.id]);
      await s.ack(4, [ns[3]!.id]);
    }
    await s.close();
    assert.ok(s.snapshots >= 1 || rec.find('notifications_snapshot'), 'a snapshot ran');
    const files = (await fs.readdir(path.join(dir, 'notifications'))).filter((f) => f.endsWith('.jsonl'));
    assert.ok(files.length <= 3, `old segments removed, ${files.length} left`);
    s = await open(dir, o);
    assert.deepEqual(ids(await s.pending(1, { limit: 1000 })), keep);
    for (const u of [2, 3, 4]) assert.deepEqual(await s.pending(u), []);
    const [next] = await s.enqueue([9], 'z');
    assert.ok(next!.id > lastId);
    await s.close();
    // Ack all of user 1, snapshot again: the nid record keeps the id high-water.
    s = await open(dir, o);
    assert.equal(await s.ack(1, keep), keep.length);
    await s.close();
    s = await open(dir, o);
    const [after] = await s.enqueue([9], 'z');
    assert.ok(after!.id > next!.id);
    await s.close();
  }));

test('operations after close reject with ECLOSED', () =>
  withTmpDir(async (dir) => {
    const s = await open(dir);
    await s.close();
    await assert.rejects(s.enqueue([1], 'x'), { code: 'ECLOSED' });
    await assert.rejects(s.pending(1), { code: 'ECLOSED' });
  }));
