// The release archives must be byte-for-byte reproducible and readable by ordinary tools.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describe, it } from 'node:test';
import { crc32, createTar, createTarGz, createZip, gzipDeterministic, readTar, readZip } from '../../scripts/release/archives.mjs';
import { formatSums, parseSums } from '../../scripts/release/checksums.mjs';

function bytes(n: number, seed = 1): Buffer {
  const out = Buffer.alloc(n);
  let block = Buffer.from(String(seed));
  for (let i = 0; i < n; i += 32) {
    block = createHash('sha256').update(block).digest();
    block.copy(out, i);
  }
  return out;
}

const exe = { name: 'flashhub', data: bytes(70_001), mode: 0o755 };

function hasTool(tool: string): boolean {
  return spawnSync(tool, ['--version'], { stdio: 'ignore' }).status === 0;
}

describe('tar.gz', () => {
  it('is the same bytes on every call, with a fixed gzip header', async () => {
    const a = await createTarGz([exe]);
    const b = await createTarGz([exe]);
    assert.ok(a.equals(b));
    // magic, deflate, no flags, mtime 0, xfl 0, OS 3 (Unix)
    assert.deepEqual([...a.subarray(0, 10)], [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]);
    assert.ok(gunzipSync(a).equals(createTar([exe])));
  });

  it('holds each file with its mode, uid/gid 0, mtime 0 and no owner names', async () => {
    const files = readTar(gunzipSync(await createTarGz([exe, { name: 'docs/README.txt', data: Buffer.from('hello\n') }])));
    assert.equal(files.length, 2);
    assert.deepEqual(files.map((f) => [f.name, f.mode, f.uid, f.gid, f.mtime, f.uname, f.gname, f.size]), [
      ['flashhub', 0o755, 0, 0, 0, '', '', 70_001],
      ['docs/README.txt', 0o644, 0, 0, 0, '', '', 6],
    ]);
    assert.ok(files[0]!.data.equals(exe.data));
  });

  it('splits long paths into the ustar prefix', () => {
    const name = `${'d'.repeat(120)}/${'f'.repeat(90)}`;
    const [file] = readTar(createTar([{ name, data: Buffer.from('x') }]));
    assert.equal(file!.name, name);
  });

  it('rejects a corrupted header', () => {
    const tar = createTar([exe]);
    tar[0] = tar[0]! ^ 1;
    assert.throws(() => readTar(tar), /bad header checksum/);
  });

  it('is read by the system tar as one 0755 file dated 1970-01-01', async (t) => {
    if (!hasTool('tar')) return t.skip('no tar here');
    const dir = mkdtempSync(path.join(os.tmpdir(), 'flashhub-archive-'));
    try {
      writeFileSync(path.join(dir, 'a.tar.gz'), await createTarGz([exe]));
      const listed = spawnSync('tar', ['--numeric-owner', '-tvzf', path.join(dir, 'a.tar.gz')], { env: { ...process.env, TZ: 'UTC' } });
      assert.equal(listed.status, 0, listed.stderr.toString());
      assert.match(listed.stdout.toString(), /^-rwxr-xr-x 0\/0 +70001 1970-01-01 00:00 flashhub\n$/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('gzip output round-trips and carries CRC-32 and size', async () => {
    const data = bytes(10_000, 7);
    const gz = await gzipDeterministic(data);
    assert.ok(gunzipSync(gz).equals(data));
    assert.equal(gz.readUInt32LE(gz.length - 8), crc32(data));
    assert.equal(gz.readUInt32LE(gz.length - 4), data.length);
  });
});

describe('zip', () => {
  it('is the same bytes on every call, dated at the DOS epoch, with the Unix mode', async () => {
    const entry = { name: 'flashhub.exe', data: exe.data, mode: 0o755 };
    const a = await createZip([entry]);
    assert.ok(a.equals(await createZip([entry])));
    const [file] = readZip(a);
    assert.equal(file!.name, 'flashhub.exe');
    assert.equal(file!.mode, 0o755);
    assert.equal(file!.dosDate, (1 << 5) | 1); // 1980-01-01
    assert.equal(file!.dosTime, 0);
    assert.ok(file!.data.equals(exe.data));
  });

  it('detects a corrupted entry', async () => {
    const zip = await createZip([{ name: 'a', data: Buffer.alloc(1000, 1) }]);
    zip.writeUInt32LE((zip.readUInt32LE(14) ^ 1) >>> 0, 14); // local CRC is not read; corrupt the central one
    const central = zip.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]));
    zip.writeUInt32LE((zip.readUInt32LE(central + 16) ^ 1) >>> 0, central + 16);
    assert.throws(() => readZip(zip), /CRC or size mismatch/);
  });

  it('passes `unzip -t`', async (t) => {
    if (spawnSync('unzip', ['-v'], { stdio: 'ignore' }).status !== 0) return t.skip('no unzip here');
    const dir = mkdtempSync(path.join(os.tmpdir(), 'flashhub-archive-'));
    try {
      writeFileSync(path.join(dir, 'a.zip'), await createZip([{ name: 'flashhub.exe', data: exe.data, mode: 0o755 }]));
      const tested = spawnSync('unzip', ['-t', path.join(dir, 'a.zip')]);
      assert.equal(tested.status, 0, tested.stdout.toString());
      assert.match(tested.stdout.toString(), /No errors detected/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('SHA256SUMS', () => {
  it('is sorted, in sha256sum format, and parses back', () => {
    const sums = { 'b.zip': 'b'.repeat(64), 'a.tar.gz': 'a'.repeat(64) };
    const text = formatSums(sums);
    assert.equal(text, `${'a'.repeat(64)}  a.tar.gz\n${'b'.repeat(64)}  b.zip\n`);
    assert.deepEqual(parseSums(text), sums);
    assert.throws(() => parseSums('nonsense\n'), /malformed/);
  });
});
