import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { FileStore } from './file-store.ts';
import { StoreError } from '../types.ts';
import { recorder, withTmpDir } from './test-util.ts';

const NODE = process.execPath;

async function segments(dir: string): Promise<string[]> {
  return (await fs.readdir(dir)).filter((f) => f.endsWith('.jsonl')).sort();
}

test('open creates the layout with private modes; close is idempotent; later calls reject ECLOSED', () =>
  withTmpDir(async (tmp) => {
    const dir = path.join(tmp, 'data');
    const store = await FileStore.open({ dir });
    assert.equal(store.kind, 'file');
    assert.equal((await fs.stat(dir)).mode & 0o777, 0o700);
    await store.meta.createUser({ username: 'alice', name: 'Alice' });
    await store.messages.append('0', { from: 1, text: 'hi' });
    await store.notifications.enqueue([1], { hello: true });
    assert.deepEqual(store.stats().messages, 1);
    assert.deepEqual(store.stats().pendingNotifications, 1);
    assert.ok(store.stats().segments >= 2 && store.stats().bytes > 0);
    assert.equal((await fs.stat(path.join(dir, 'meta.json'))).mode & 0o777, 0o600);
    await fs.stat(path.join(dir, 'LOCK'));
    await Promise.all([store.close(), store.close()]);
    await store.close();
    await assert.rejects(fs.stat(path.join(dir, 'LOCK')), { code: 'ENOENT' }, 'lock released');
    await assert.rejects(store.messages.append('0', { from: 1 }), { code: 'ECLOSED' });
    await assert.rejects(store.notifications.pending(1), { code: 'ECLOSED' });
    await assert.rejects(store.meta.getUser(1), { code: 'ECLOSED' });
    await assert.rejects(store.secret('k', 32), { code: 'ECLOSED' });
  }));

test('secret: created once (0600 in a 0700 dir), same bytes ever after, racing callers agree', () =>
  withTmpDir(async (dir) => {
    let store = await FileStore.open({ dir });
    const all = await Promise.all(Array.from({ length: 8 }, () => store.secret('jwt', 32)));
    for (const s of all) assert.deepEqual(s, all[0]);
    assert.equal(all[0]!.length, 32);
    const file = path.join(dir, 'secrets', 'jwt.key');
    assert.equal((await fs.stat(file)).mode & 0o777, 0o600);
    assert.equal((await fs.stat(path.join(dir, 'secrets'))).mode & 0o777, 0o700);
    assert.notDeepEqual(await store.secret('other', 32), all[0]);
    await assert.rejects(store.secret('../evil', 32), { code: 'EINVAL' });
    await store.close();
    store = await FileStore.open({ dir });
    assert.deepEqual(await store.secret('jwt', 32), all[0]);
    await fs.writeFile(file, 'short');
    await assert.rejects(store.secret('jwt', 32), (e: unknown) => e instanceof StoreError && e.code === 'ECORRUPT' && e.message.includes(file));
    await store.close();
  }));

test('a second open of the same directory rejects ELOCKED naming the directory and pid', () =>
  withTmpDir(async (dir) => {
    const store = await FileStore.open({ dir });
    await assert.rejects(FileStore.open({ dir }), (e: unknown) => {
      assert.ok(e instanceof StoreError);
      assert.equal(e.code, 'ELOCKED');
      assert.match(e.message, new RegExp(`data directory ${dir} is in use by flashhub process ${process.pid}; stop it or use another --data`));
      return true;
    });
    await store.close();
    const again = await FileStore.open({ dir });
    await again.close();
  }));

test('another live process holding the lock is refused; a dead one is taken over and reported', () =>
  withTmpDir(async (dir) => {
    const script = `
      const { FileStore } = await import(${JSON.stringify(new URL('./file-store.ts', import.meta.url).href)});
      const s = await FileStore.open({ dir: ${JSON.stringify(dir)} });
      process.stdout.write('ready\\n');
      process.stdin.on('data', async () => { await s.close(); process.exit(0); });`;
    const child = spawn(NODE, ['--input-type=module', '-e', script], { stdio: ['pipe', 'pipe', 'inherit'] });
    await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
    await assert.rejects(FileStore.open({ dir }), (e: unknown) => {
      assert.ok(e instanceof StoreError && e.code === 'ELOCKED');
      assert.ok(e.message.includes(`flashhub process ${child.pid}`), e.message);
      return true;
    });
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    // The LOCK of the killed process is still there; its pid is dead.
    const held = JSON.parse(await fs.readFile(path.join(dir, 'LOCK'), 'utf8')) as { pid: number };
    assert.equal(held.pid, child.pid);
    const rec = recorder();
    const store = await FileStore.open({ dir, report: rec.report });
    const ev = rec.find('lock_taken_over');
    assert.equal(ev?.detail?.pid, child.pid);
    assert.equal(ev?.path, path.join(dir, 'LOCK'));
    await store.close();
  }));

test('a garbage or empty LOCK is taken over; a LOCK from another host is refused', () =>
  withTmpDir(async (dir) => {
    for (const junk of ['', 'not json', '{"pid":"x"}']) {
      await fs.writeFile(path.join(dir, 'LOCK'), junk);
      const rec = recorder();
      const s = await FileStore.open({ dir, report: rec.report });
      assert.ok(rec.find('lock_taken_over'));
      await s.close();
    }
    const dead = spawnSync(NODE, ['-e', '0']).pid ?? 999_999;
    await fs.writeFile(path.join(dir, 'LOCK'), JSON.stringify({ pid: dead, host: 'elsewhere.example', startedAt: 'x' }));
    await assert.rejects(FileStore.open({ dir }), (e: unknown) => e instanceof StoreError && e.code === 'ELOCKED' && e.message.includes('elsewhere.example'));
    await fs.writeFile(path.join(dir, 'LOCK'), JSON.stringify({ pid: dead, host: os.hostname(), startedAt: 'x' }));
    const s = await FileStore.open({ dir });
    await s.close();
  }));

test('torn tail: a partial record plus 4 KiB of NULs is truncated, reported, and nothing earlier is lost', () =>
  withTmpDir(async (dir) => {
    let store = await FileStore.open({ dir, segmentBytes: 8192 });
    for (let i = 1; i <= 150; i++) await store.messages.append(i % 2 ? 'a' : 'b', { from: 1, text: `m${i}`, cid: `c${i}` });
    const enq = await store.notifications.enqueue([1, 2, 3], 'n');
    await store.close();
    const mdir = path.join(dir, 'messages');
    const newest = path.join(mdir, (await segments(mdir)).at(-1)!);
    const goodSize = (await fs.stat(newest)).size;
    const partial = '0badc0de {"t":"m","room":"a","seq":76,"ts":1,"from":1,"text":"tor';
    await fs.appendFile(newest, Buffer.concat([Buffer.from(partial), Buffer.alloc(4096)]));
    const ndir = path.join(dir, 'notifications');
    const nNewest = path.join(ndir, (await segments(ndir)).at(-1)!);
    await fs.appendFile(nNewest, Buffer.alloc(4096));

    const rec = recorder();
    store = await FileStore.open({ dir, segmentBytes: 8192, report: rec.report });
    const cut = rec.events.filter((e) => e.event === 'tail_truncated');
    assert.equal(cut.length, 2, 'both logs report their truncation');
    const m = cut.find((e) => e.path === newest);
    assert.ok(m, `truncation of ${newest} reported`);
    assert.equal(m.level, 'warn');
    assert.equal(m.detail?.bytesDropped, partial.length + 4096);
    assert.equal(typeof m.detail?.recordsRecovered, 'number');
    assert.equal((await fs.stat(newest)).size, goodSize, 'truncated back to the last good frame');
    assert.deepEqual((await store.messages.page('a', { afterSeq: 0, limit: 500 })).map((x) => x.text), Array.from({ length: 75 }, (_, i) => `m${2 * i + 1}`));
    assert.equal(await store.messages.count('b'), 75);
    assert.equal((await store.messages.append('a', { from: 1, text: 'next' })).seq, 76);
    assert.deepEqual((await store.notifications.pending(2)).map((n) => n.id), [enq[1]!.id]);
    await store.close();
    // The repaired log opens cleanly.
    const rec2 = recorder();
    store = await FileStore.open({ dir, segmentBytes: 8192, report: rec2.report });
    assert.equal(rec2.find('tail_truncated'), undefined);
    assert.equal(await store.messages.latestSeq('a'), 76);
    await store.close();
  }));

test('a flipped byte in a sealed segment fails open with ECORRUPT naming the file (with or without its sidecar)', () =>
  withTmpDir(async (dir) => {
    let store = await FileStore.open({ dir, segmentBytes: 4096 });
    for (let i = 1; i <= 200; i++) await store.messages.append('r', { from: 1, text: `message number ${i}` });
    await store.messages.idle();
    await store.close();
    const mdir = path.join(dir, 'messages');
    const sealed = path.join(mdir, (await segments(mdir))[1]!);
    const buf = await fs.readFile(sealed);
    const at = buf.indexOf('message number') + 3;
    buf[at] = (buf[at] as number) ^ 0x01;
    await fs.writeFile(sealed, buf);
    const idx = sealed.replace(/\.jsonl$/, '.idx');
    await fs.stat(idx);
    for (const withSidecar of [true, false]) {
      if (!withSidecar) await fs.rm(idx);
      await assert.rejects(FileStore.open({ dir, segmentBytes: 4096 }), (e: unknown) => {
        assert.ok(e instanceof StoreError, String(e));
        assert.equal(e.code, 'ECORRUPT');
        assert.ok(e.message.includes(sealed), e.message);
        return true;
      });
      assert.equal((await fs.readFile(sealed)).length, buf.length, 'never silently emptied or truncated');
    }
    await assert.rejects(fs.stat(path.join(dir, 'LOCK')), { code: 'ENOENT' }, 'a failed open releases the lock');
    // Repairing the byte makes the directory usable again.
    buf[at] = (buf[at] as number) ^ 0x01;
    await fs.writeFile(sealed, buf);
    store = await FileStore.open({ dir, segmentBytes: 4096 });
    assert.equal(await store.messages.count('r'), 200);
    await store.close();
  }));
