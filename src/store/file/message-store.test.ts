import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { FileMessageStore, type MessageStoreOptions } from './message-store.ts';
import { recorder, withTmpDir } from './test-util.ts';

const open = (dir: string, o: Partial<MessageStoreOptions> = {}): Promise<FileMessageStore> =>
  FileMessageStore.open({ dir: path.join(dir, 'messages'), ...o });

const seqs = (ms: { seq: number }[]): number[] => ms.map((m) => m.seq);
const range = (a: number, b: number): number[] => Array.from({ length: b - a + 1 }, (_, i) => a + i);

async function fill(s: FileMessageStore, room: string, n: number, text = (i: number) => `message ${i}`): Promise<void> {
  for (let i = 1; i <= n; i++) await s.append(room, { from: 1, text: text(i) });
}

test('page: defaults, both directions, bounds and limits (hot cache and from disk)', () =>
  withTmpDir(async (dir) => {
    let s = await open(dir, { segmentBytes: 16 * 1024 });
    await fill(s, 'r', 620);
    for (let round = 0; round < 2; round++) {
      assert.deepEqual(seqs(await s.page('r')), range(571, 620), 'newest 50, ascending');
      assert.deepEqual(seqs(await s.page('r', { beforeSeq: 571 })), range(521, 570));
      assert.deepEqual(seqs(await s.page('r', { beforeSeq: 3 })), [1, 2]);
      assert.deepEqual(seqs(await s.page('r', { afterSeq: 0, limit: 10 })), range(1, 10));
      assert.deepEqual(seqs(await s.page('r', { afterSeq: 615 })), range(616, 620));
      assert.deepEqual(seqs(await s.page('r', { afterSeq: 620 })), []);
      assert.deepEqual(seqs(await s.page('r', { afterSeq: 10, beforeSeq: 15 })), range(11, 14));
      assert.equal((await s.page('r', { limit: 10_000 })).length, 500, 'limit is capped at 500');
      assert.deepEqual(seqs(await s.page('r', { afterSeq: 0, limit: 10_000 })), range(1, 500));
      assert.deepEqual(await s.page('nope'), []);
      const m = await s.get('r', 300);
      assert.equal(m?.text, 'message 300');
      assert.equal(m?.room, 'r');
      assert.equal(await s.latestSeq('r'), 620);
      assert.equal(await s.count('r'), 620);
      await s.close();
      s = await open(dir, { segmentBytes: 16 * 1024 }); // second round: cold cache, sidecars
    }
    await s.close();
  }));

test('identical texts stay separate messages; concurrent appends get seqs in call order', () =>
  withTmpDir(async (dir) => {
    const s = await open(dir);
    const [a, b] = await Promise.all([s.append('x', { from: 1, text: 'same' }), s.append('x', { from: 1, text: 'same' })]);
    assert.deepEqual([a.seq, b.seq], [1, 2]);
    const many = await Promise.all(range(1, 200).map((i) => s.append('x', { from: 2, text: `t${i}` })));
    assert.deepEqual(seqs(many), range(3, 202));
    assert.deepEqual((await s.page('x', { afterSeq: 0, limit: 2 })).map((m) => m.text), ['same', 'same']);
    await s.close();
  }));

test('a retry with the same cid returns the original message, also after a restart', () =>
  withTmpDir(async (dir) => {
    let s = await open(dir);
    const [a, b] = await Promise.all([
      s.append('r', { from: 1, text: 'hi', cid: 'c1' }),
      s.append('r', { from: 1, text: 'hi', cid: 'c1' }),
    ]);
    assert.equal(a.seq, 1);
    assert.deepEqual(b, a, 'a retry while the first is in flight joins it');
    const c = await s.append('r', { from: 1, text: 'hi', cid: 'c1' });
    assert.deepEqual(c, a);
    const other = await s.append('other', { from: 1, text: 'hi', cid: 'c1' });
    assert.equal(other.seq, 1, 'cids are per room');
    await s.append('r', { from: 1, text: 'second', cid: 'c2' });
    await s.close();
    s = await open(dir);
    const d = await s.append('r', { from: 1, text: 'hi', cid: 'c1' });
    assert.deepEqual(d, a, 'the cid window is rebuilt from the log');
    assert.equal(await s.count('r'), 2);
    assert.equal((await s.append('r', { from: 1, text: 'new', cid: 'c3' })).seq, 3);
    await s.close();
  }));

test('delete: durable tombstone, skipped by page/get/count, survives reopen', () =>
  withTmpDir(async (dir) => {
    let s = await open(dir);
    await fill(s, 'r', 10);
    assert.equal(await s.delete('r', 5), true);
    assert.equal(await s.delete('r', 5), false);
    assert.equal(await s.delete('r', 99), false);
    assert.equal(await s.delete('nope', 1), false);
    assert.equal(await s.get('r', 5), undefined);
    assert.equal(await s.count('r'), 9);
    assert.deepEqual(seqs(await s.page('r', { afterSeq: 3, limit: 3 })), [4, 6, 7]);
    await s.close();
    s = await open(dir);
    assert.equal(await s.get('r', 5), undefined);
    assert.deepEqual(seqs(await s.page('r')), [1, 2, 3, 4, 6, 7, 8, 9, 10]);
    assert.equal(await s.latestSeq('r'), 10);
    await s.close();
  }));

test('trim keeps the newest N, returns the number dropped; seqs keep counting', () =>
  withTmpDir(async (dir) => {
    let s = await open(dir);
    await fill(s, 'r', 100);
    await s.delete('r', 95);
    assert.equal(await s.trim('r', 10), 89, '99 live, keep 10');
    assert.equal(await s.count('r'), 10);
    assert.deepEqual(seqs(await s.page('r', { afterSeq: 0 })), [90, 91, 92, 93, 94, 96, 97, 98, 99, 100]);
    assert.equal(await s.trim('r', 10), 0);
    await assert.rejects(s.trim('r', -1), { code: 'EINVAL' });
    await s.close();
    s = await open(dir);
    assert.equal(await s.count('r'), 10);
    assert.equal(await s.trim('r', 0), 10);
    assert.equal(await s.count('r'), 0);
    assert.deepEqual(await s.page('r'), []);
    assert.equal((await s.append('r', { from: 1, text: 'after' })).seq, 101);
    await s.close();
    s = await open(dir);
    assert.equal(await s.latestSeq('r'), 101);
    assert.deepEqual(seqs(await s.page('r')), [101]);
    await s.close();
  }));

test('retention drops whole old sealed segments; seqs survive even when a room empties', () =>
  withTmpDir(async (dir) => {
    let t = 1_000_000;
    const rec = recorder();
    const o = { segmentBytes: 4096, now: () => t, report: rec.report };
    let s = await open(dir, o);
    await fill(s, 'old', 100);
    await fill(s, 'both', 50);
    t += 60_000;
    await fill(s, 'both', 50);
    await fill(s, 'new', 50);
    const before = s.stats();
    s.expire(30_000);
    await s.idle();
    const ev = rec.find('segments_expired');
    assert.ok(ev, 'expiry reported');
    assert.ok(s.stats().segments < before.segments);
    assert.equal(await s.count('old'), 0);
    assert.equal(await s.latestSeq('old'), 100);
    assert.equal(await s.count('new'), 50);
    const both = await s.page('both', { afterSeq: 0, limit: 500 });
    assert.ok(both.length >= 50 && both.length < 100, `kept ${both.length}`);
    assert.deepEqual(seqs(both), range(101 - both.length, 100), 'the newest are kept, contiguous');
    await s.close();
    s = await open(dir, o);
    assert.equal(await s.count('old'), 0);
    assert.equal((await s.append('old', { from: 1, text: 'x' })).seq, 101, 'a high-water record kept the seq');
    assert.equal(await s.count('both'), both.length);
    await s.close();
  }));

test('retention by maxAgeMs runs at open', () =>
  withTmpDir(async (dir) => {
    let t = 5_000_000;
    let s = await open(dir, { segmentBytes: 2048, now: () => t });
    await fill(s, 'r', 60);
    await s.close();
    t += 10 * 86_400_000;
    s = await open(dir, { segmentBytes: 2048, now: () => t, retention: { maxAgeMs: 86_400_000 } });
    await s.idle();
    assert.ok((await s.count('r')) < 60);
    assert.equal(await s.latestSeq('r'), 60);
    await s.close();
  }));

test('compaction rewrites sparse sealed segments; reads and reopen stay correct', () =>
  withTmpDir(async (dir) => {
    const rec = recorder();
    const o = { segmentBytes: 8192, report: rec.report };
    let s = await open(dir, o);
    await fill(s, 'a', 300);
    await fill(s, 'b', 300);
    const segs = s.stats().segments;
    assert.ok(segs > 5);
    // Delete most of room a (lives in the oldest segments), trim room b to its newest 20.
    for (let i = 1; i <= 300; i++) if (i % 10 !== 0) await s.delete('a', i);
    assert.equal(await s.trim('b', 20), 280);
    await s.idle();
    const compactions = rec.events.filter((e) => e.event === 'segment_compacted');
    assert.ok(compactions.length > 0, 'segments were compacted');
    let bytesAfter = s.stats().bytes;
    assert.deepEqual(seqs(await s.page('a', { afterSeq: 0, limit: 500 })), range(1, 30).map((i) => i * 10));
    assert.deepEqual(seqs(await s.page('b', { afterSeq: 0 })), range(281, 300));
    assert.equal((await s.get('a', 150))?.text, 'message 150');
    await s.close();
    let next = 301;
    for (const reopenWithoutSidecars of [false, true]) {
      if (reopenWithoutSidecars) {
        for (const f of await fs.readdir(path.join(dir, 'messages'))) if (f.endsWith('.idx')) await fs.rm(path.join(dir, 'messages', f));
      }
      s = await open(dir, o);
      assert.equal(s.stats().bytes, bytesAfter);
      assert.deepEqual(seqs(await s.page('a', { afterSeq: 0, beforeSeq: 301, limit: 500 })), range(1, 30).map((i) => i * 10));
      assert.deepEqual(seqs(await s.page('b', { afterSeq: 0 })), range(281, 300));
      assert.equal((await s.get('a', 290))?.text, 'message 290');
      assert.equal(await s.count('a'), 30 + next - 301);
      assert.equal((await s.append('a', { from: 1, text: 'next' })).seq, next++);
      await s.idle();
      bytesAfter = s.stats().bytes;
      await s.close();
    }
  }));

test('deleting the newest message then compacting keeps the seq (high-water)', () =>
  withTmpDir(async (dir) => {
    const o = { segmentBytes: 2048 };
    let s = await open(dir, o);
    await fill(s, 'solo', 20);
    await fill(s, 'filler', 100); // seals the segments holding room solo
    for (let i = 1; i <= 20; i++) await s.delete('solo', i);
    await s.idle();
    await s.close();
    s = await open(dir, o);
    assert.equal(await s.count('solo'), 0);
    assert.equal(await s.latestSeq('solo'), 20);
    assert.equal((await s.append('solo', { from: 1, text: 'x' })).seq, 21);
    await s.close();
  }));

test('reopen rebuilds the index from sidecars or by scanning, across many rooms', () =>
  withTmpDir(async (dir) => {
    const rec = recorder();
    const o = { segmentBytes: 32 * 1024, report: rec.report };
    let s = await open(dir, o);
    const rooms = range(1, 200).map((i) => `room-${i}`);
    await Promise.all(rooms.map(async (room, r) => {
      for (let i = 1; i <= 20; i++) {
        const m = await s.append(room, { from: r, text: `${room} #${i}`, data: { i } });
        assert.equal(m.seq, i);
      }
    }));
    await s.idle();
    const idx = (await fs.readdir(path.join(dir, 'messages'))).filter((f) => f.endsWith('.idx'));
    assert.ok(idx.length >= 2, 'sealed segments got sidecars');
    await s.close();
    const check = async (): Promise<void> => {
      for (const [r, room] of rooms.entries()) {
        const page = await s.page(room, { afterSeq: 0 });
        assert.deepEqual(seqs(page), range(1, 20));
        assert.equal(page[19]?.text, `${room} #20`);
        assert.deepEqual(page[0]?.data, { i: 1 });
        assert.equal(page[0]?.from, r);
      }
      assert.equal(s.stats().messages, 4000);
    };
    s = await open(dir, o);
    await check();
    await s.close();
    // A damaged sidecar is ignored and rebuilt, never trusted.
    const first = path.join(dir, 'messages', idx[0] as string);
    const buf = await fs.readFile(first);
    buf[buf.length - 3] = (buf[buf.length - 3] as number) ^ 0xff;
    await fs.writeFile(first, buf);
    s = await open(dir, o);
    await check();
    assert.ok(rec.find('index_ignored'));
    assert.ok(rec.find('index_rebuilt'));
    await s.close();
  }));

test('operations after close reject with ECLOSED', () =>
  withTmpDir(async (dir) => {
    const s = await open(dir);
    await s.append('r', { from: 1, text: 'x' });
    await s.close();
    await s.close();
    await assert.rejects(s.append('r', { from: 1 }), { code: 'ECLOSED' });
    await assert.rejects(s.page('r'), { code: 'ECLOSED' });
  }));

test('checkpoint sidecars: a restart parses only the tail of the active segment', () =>
  withTmpDir(async (dir) => {
    const rec = recorder();
    const o = { segmentBytes: 1024 * 1024, checkpointBytes: 8 * 1024, report: rec.report };
    let s = await open(dir, o);
    await fill(s, 'r', 500, (i) => `checkpointed message ${i}`);
    await s.idle();
    const mdir = path.join(dir, 'messages');
    assert.deepEqual((await fs.readdir(mdir)).sort(), ['seg-0000000001.idx', 'seg-0000000001.jsonl'], 'the active segment has a checkpoint');
    await s.close();
    // A torn tail after the checkpoint is still repaired.
    await fs.appendFile(path.join(mdir, 'seg-0000000001.jsonl'), '12345678 {"t":"m","ro');
    s = await open(dir, o);
    assert.equal(rec.find('index_ignored'), undefined, 'the checkpoint was used');
    assert.ok(rec.find('tail_truncated'));
    assert.deepEqual(seqs(await s.page('r', { afterSeq: 0, limit: 500 })), range(1, 500));
    assert.equal((await s.get('r', 1))?.text, 'checkpointed message 1');
    assert.equal((await s.append('r', { from: 1, text: 'x', cid: 'k' })).seq, 501);
    await s.close();
  }));

test('a sealed segment whose sidecar is only an old checkpoint is completed by scanning', () =>
  withTmpDir(async (dir) => {
    const rec = recorder();
    const o = { segmentBytes: 64 * 1024, checkpointBytes: 8 * 1024, report: rec.report };
    const mdir = path.join(dir, 'messages');
    let s = await open(dir, o);
    await fill(s, 'r', 150, (i) => `m${i}`);
    await s.idle();
    const checkpoint = await fs.readFile(path.join(mdir, 'seg-0000000001.idx'));
    await fill(s, 'r', 1000, (i) => `more ${i}`); // seals segment 1 (its full sidecar replaces the checkpoint)
    await s.idle();
    await s.close();
    // As if the process died between the roll and the sealed segment's sidecar write.
    await fs.writeFile(path.join(mdir, 'seg-0000000001.idx'), checkpoint);
    s = await open(dir, o);
    assert.ok(rec.find('index_rebuilt'));
    assert.equal(rec.find('index_ignored'), undefined);
    assert.equal(await s.count('r'), 1150);
    assert.deepEqual(seqs(await s.page('r', { afterSeq: 0, limit: 500 })), range(1, 500));
    await s.idle();
    await s.close();
    assert.notDeepEqual(await fs.readFile(path.join(mdir, 'seg-0000000001.idx')), checkpoint, 'a full sidecar was written');
  }));
