import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { SegmentLog, segmentFileName, type LogOptions } from './segment-log.ts';
import { StoreError } from '../types.ts';
import { recorder, withTmpDir } from './test-util.ts';

function opts(dir: string, extra: Partial<LogOptions> = {}): LogOptions {
  return { dir, name: 'test', sync: 'fdatasync', report: () => {}, onRecord: () => {}, ...extra };
}

test('group commit: concurrent appends share syncs; callbacks run in log order before resolution', () =>
  withTmpDir(async (dir) => {
    const log = await SegmentLog.open(opts(dir));
    const order: number[] = [];
    const results = await Promise.all(
      Array.from({ length: 500 }, (_, i) =>
        log.append(JSON.stringify({ i }), (seg, off, len) => {
          order.push(i);
          return { seg, off, len };
        }),
      ),
    );
    assert.deepEqual(order, Array.from({ length: 500 }, (_, i) => i));
    assert.ok(log.syncs < 50, `500 concurrent appends took ${log.syncs} syncs`);
    for (const [i, r] of results.entries()) {
      const f = await log.read(r.seg, r.off, r.len);
      assert.deepEqual(f.value, { i });
    }
    await log.close();
    await assert.rejects(log.append('{}'), { code: 'ECLOSED' });
  }));

test('segments roll at the size limit; reopen replays every record in order', () =>
  withTmpDir(async (dir) => {
    const sealed: number[] = [];
    const log = await SegmentLog.open(opts(dir, { segmentBytes: 1024, onSeal: (s) => sealed.push(s.id) }));
    for (let i = 0; i < 200; i++) await log.append(JSON.stringify({ i, pad: 'x'.repeat(20) }));
    const segs = log.segments();
    assert.ok(segs.length > 5);
    assert.deepEqual(sealed, segs.slice(0, -1).map((s) => s.id), 'every segment but the active one was sealed');
    for (const s of segs.slice(0, -1)) assert.ok(s.size <= 1024 && s.sealed);
    await log.close();
    const seen: number[] = [];
    const again = await SegmentLog.open(opts(dir, { segmentBytes: 1024, onRecord: (_s, f) => seen.push((f.value as { i: number }).i) }));
    assert.deepEqual(seen, Array.from({ length: 200 }, (_, i) => i));
    await again.close();
  }));

test('a write error poisons the log: the failed append and every later one reject EPOISONED', () =>
  withTmpDir(async (dir) => {
    await fs.symlink('/dev/full', path.join(dir, segmentFileName(1)));
    const rec = recorder();
    const log = await SegmentLog.open(opts(dir, { report: rec.report }));
    await assert.rejects(log.append('{"a":1}'), (e: unknown) => e instanceof StoreError && e.code === 'EPOISONED');
    await assert.rejects(log.append('{"a":2}'), (e: unknown) => e instanceof StoreError && e.code === 'EPOISONED' && e.message.includes('restart'));
    assert.equal(rec.find('log_poisoned')?.level, 'error');
    await log.close();
  }));

test('reads are positional: a whole-segment scan does not disturb later reads, and compaction swaps safely', () =>
  withTmpDir(async (dir) => {
    const log = await SegmentLog.open(opts(dir, { segmentBytes: 1024 }));
    const locs: { seg: number; off: number; len: number }[] = [];
    for (let i = 0; i < 200; i++) locs.push(await log.append(JSON.stringify({ i }), (seg, off, len) => ({ seg, off, len })));
    const first = log.segments()[0]!;
    await log.scanSegment(first.id, () => {});
    const a = locs[0]!;
    assert.deepEqual((await log.read(a.seg, a.off, a.len)).value, { i: 0 }, 'read after a full scan');
    // Start a read, then replace the segment: the read finishes on the old file.
    const pending = log.read(a.seg, a.off, a.len);
    let moved: number[] = [];
    await log.replaceSegment(first.id, [JSON.stringify({ i: 0 })], (offsets) => (moved = offsets));
    assert.deepEqual((await pending).value, { i: 0 });
    assert.deepEqual(moved, [0]);
    assert.deepEqual((await log.read(first.id, 0, a.len)).value, { i: 0 });
    assert.equal(log.segment(first.id)?.size, a.len);
    await log.close();
    const names = await fs.readdir(dir);
    assert.ok(!names.some((n) => n.endsWith('.tmp')));
  }));

test('rollWith seals the active segment and starts the next with the snapshot records', () =>
  withTmpDir(async (dir) => {
    const log = await SegmentLog.open(opts(dir));
    await log.append('{"old":1}');
    const id = await log.rollWith(() => ['{"snap":1}', '{"snap":2}']);
    assert.equal(id, 2);
    await log.removeSegments([1]);
    await log.close();
    const seen: unknown[] = [];
    const again = await SegmentLog.open(opts(dir, { onRecord: (_s, f) => seen.push(f.value) }));
    assert.deepEqual(seen, [{ snap: 1 }, { snap: 2 }]);
    await again.close();
  }));
