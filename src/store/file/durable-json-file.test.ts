import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Low } from 'lowdb';
import { DurableJSONFile } from './durable-json-file.ts';
import { StoreError } from '../types.ts';
import { recorder, withTmpDir } from './test-util.ts';

test('missing file reads as null; writes land with mode 0600', () =>
  withTmpDir(async (dir) => {
    const file = path.join(dir, 'doc.json');
    const a = new DurableJSONFile<{ n: number }>(file);
    assert.equal(await a.read(), null);
    await a.write({ n: 1 });
    assert.deepEqual(JSON.parse(await fs.readFile(file, 'utf8')), { n: 1 });
    assert.equal((await fs.stat(file)).mode & 0o777, 0o600);
    assert.deepEqual(await new DurableJSONFile(file).read(), { n: 1 });
  }));

for (const [label, content] of [
  ['empty', ''],
  ['whitespace', '  \n'],
  ['truncated', '{"users": {"1": {"id"'],
  ['null', 'null'],
  ['NUL-filled', '\0'.repeat(512)],
  ['a bare number', '42'],
] as const) {
  test(`${label} file is refused with ECORRUPT naming the path, and left untouched`, () =>
    withTmpDir(async (dir) => {
      const file = path.join(dir, 'meta.json');
      await fs.writeFile(file, content);
      const db = new Low(new DurableJSONFile<{ v: number }>(file), { v: 1 });
      await assert.rejects(db.read(), (err: unknown) => {
        assert.ok(err instanceof StoreError);
        assert.equal(err.code, 'ECORRUPT');
        assert.ok(err.message.includes(file), err.message);
        return true;
      });
      assert.equal(await fs.readFile(file, 'utf8'), content, 'the damaged file is never overwritten');
    }));
}

test('tmp leftovers of a crashed write are removed at read and reported', () =>
  withTmpDir(async (dir) => {
    const file = path.join(dir, 'meta.json');
    await fs.writeFile(file, '{"v":2}');
    const leftover = path.join(dir, '.meta.json.999.abcdef.tmp');
    const unrelated = path.join(dir, 'other.tmp.keep');
    await fs.writeFile(leftover, '{"v":');
    await fs.writeFile(unrelated, 'x');
    const rec = recorder();
    assert.deepEqual(await new DurableJSONFile(file, { report: rec.report }).read(), { v: 2 });
    await assert.rejects(fs.stat(leftover), { code: 'ENOENT' });
    await fs.stat(unrelated);
    assert.equal(rec.find('tmp_removed')?.path, leftover);
  }));

test('concurrent updates coalesce, and each awaited update is on disk when it resolves', () =>
  withTmpDir(async (dir) => {
    const file = path.join(dir, 'doc.json');
    const adapter = new DurableJSONFile<{ items: number[] }>(file);
    const db = new Low(adapter, { items: [] });
    await db.read();
    const N = 60;
    const checks = Array.from({ length: N }, async (_, i) => {
      await db.update((d) => d.items.push(i));
      // At resolution time the file must already hold this update.
      const onDisk = JSON.parse(await fs.readFile(file, 'utf8')) as { items: number[] };
      assert.ok(onDisk.items.includes(i), `update ${i} resolved before it was written`);
    });
    await Promise.all(checks);
    assert.ok(adapter.writes < N / 2, `expected coalescing, got ${adapter.writes} physical writes for ${N} updates`);
    assert.ok(adapter.writes >= 2);
    const final = JSON.parse(await fs.readFile(file, 'utf8')) as { items: number[] };
    assert.deepEqual([...final.items].sort((a, b) => a - b), Array.from({ length: N }, (_, i) => i));
    const names = await fs.readdir(dir);
    assert.deepEqual(names, ['doc.json'], 'no tmp files left behind');
  }));

test('a write that started before a call does not resolve that call', () =>
  withTmpDir(async (dir) => {
    const file = path.join(dir, 'doc.json');
    const adapter = new DurableJSONFile<{ v: number }>(file);
    const doc = { v: 1 };
    const first = adapter.write(doc); // starts now, serialises v=1
    doc.v = 2;
    const second = adapter.write(doc); // must wait for a write that serialises v=2
    await first;
    await second;
    assert.deepEqual(JSON.parse(await fs.readFile(file, 'utf8')), { v: 2 });
    assert.equal(adapter.writes, 2);
  }));
