// Official Node binaries for every target, from the npm registry by exact version, pinned in
// node-bases.lock.json by the tarball's npm integrity (sha512) and the extracted binary's sha256.
//
// For each target: if .cache/node-bases/<version>/<target>/<binary> exists and its sha256 matches the
// lock, npm is not called. Otherwise `npm pack <pkg>@<version> --json`, then the tarball's sha512 must
// equal the lock's integrity and the binary's sha256 the lock's sha256: any mismatch stops the build.
// A target missing from the lock is pinned on first use (trust on first use), unless `frozen` (CI),
// where it is an error.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { readTar } from './archives.mjs';
import { sha256File } from './checksums.mjs';
import { TARGETS, TARGET_NAMES } from './targets.mjs';

export const LOCK_COMMENT = 'Official Node binaries embedded in the release executables (npm packages, exact versions). '
  + 'integrity: the npm tarball (sha512, SRI); sha256: the binary extracted from it. build.mjs refuses a mismatch. '
  + 'The SEA blob is made by the base of the build machine\'s own platform (linux-x64 in CI), so it is pinned here as well. '
  + 'Regenerate an entry by deleting it and running `npm run build` (never with --frozen).';

export class BaseMismatchError extends Error {}

export function readLock(file) {
  if (!existsSync(file)) return { _comment: LOCK_COMMENT, bases: {} };
  const lock = JSON.parse(readFileSync(file, 'utf8'));
  lock.bases ??= {};
  return lock;
}

/** Writes the lock with a stable layout: targets in canonical order, keys in a fixed order. */
export function writeLock(file, lock) {
  const bases = {};
  for (const name of [...TARGET_NAMES, ...Object.keys(lock.bases).filter((n) => !TARGET_NAMES.includes(n)).sort()]) {
    const entry = lock.bases[name];
    if (!entry) continue;
    bases[name] = { package: entry.package, integrity: entry.integrity, file: entry.file, sha256: entry.sha256, size: entry.size };
  }
  writeFileSync(file, `${JSON.stringify({ _comment: LOCK_COMMENT, bases }, null, 2)}\n`);
}

export function sriSha512(data) {
  return `sha512-${createHash('sha512').update(data).digest('base64')}`;
}

/** Checks a downloaded tarball and extracts the binary; throws BaseMismatchError on any mismatch. */
export function verifyAndExtract(tgz, { spec, file, integrity, sha256 }) {
  const actualIntegrity = sriSha512(tgz);
  if (integrity && actualIntegrity !== integrity) {
    throw new BaseMismatchError(`${spec}: npm tarball integrity mismatch\n  lock:       ${integrity}\n  downloaded: ${actualIntegrity}\n`
      + 'The registry served different bytes than were pinned. Do not build from it; if the change is expected, delete the entry from node-bases.lock.json and build again without --frozen.');
  }
  const entry = readTar(zlib.gunzipSync(tgz)).find((f) => f.name === file);
  if (!entry) throw new BaseMismatchError(`${spec}: ${file} is not in the npm tarball`);
  const actualSha = createHash('sha256').update(entry.data).digest('hex');
  if (sha256 && actualSha !== sha256) {
    throw new BaseMismatchError(`${spec}: ${file} sha256 mismatch\n  lock:      ${sha256}\n  extracted: ${actualSha}`);
  }
  return { data: entry.data, integrity: actualIntegrity, sha256: actualSha };
}

function npmPack(spec, destination) {
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const out = execFileSync(npm, ['pack', spec, '--json', '--prefer-offline', '--pack-destination', destination], {
    stdio: ['ignore', 'pipe', 'pipe'],
    shell: process.platform === 'win32',
    maxBuffer: 64 * 1024 * 1024,
  }).toString();
  // npm may print warnings before the JSON on stdout with some configurations: take the JSON array.
  const json = JSON.parse(out.slice(out.indexOf('[')));
  return { file: path.join(destination, json[0].filename), integrity: json[0].integrity };
}

/**
 * Makes sure the base binary of `target` (Node `version`) is in the cache and matches the lock.
 * Returns { path, sha256, fetched }. Adds a missing lock entry to `lock` (the caller writes it).
 */
export async function ensureBase({ target, version, cacheDir, lock, frozen = false, log = () => {} }) {
  const info = TARGETS[target];
  const spec = `${info.npm}@${version}`;
  let entry = lock.bases[target];
  if (entry && entry.package !== spec) {
    if (frozen) throw new BaseMismatchError(`node-bases.lock.json pins ${entry.package} for ${target}, but this build embeds ${spec} (--frozen: not updating the lock)`);
    log(`  ${target}: lock pins ${entry.package}; re-pinning for ${spec}`);
    entry = undefined;
  }
  if (!entry && frozen) {
    throw new BaseMismatchError(`node-bases.lock.json has no entry for ${target} (${spec}); run \`npm run build\` without --frozen once and commit the lock`);
  }
  const cached = path.join(cacheDir, 'node-bases', version, target, path.basename(info.binary));
  if (entry && existsSync(cached)) {
    const sha = await sha256File(cached);
    if (sha === entry.sha256) return { path: cached, sha256: sha, fetched: false };
    log(`  ${target}: cached binary does not match the lock (${sha}); fetching again`);
    rmSync(cached, { force: true });
  }
  mkdirSync(cacheDir, { recursive: true });
  const scratch = mkdtempSync(path.join(cacheDir, 'npm-pack-'));
  try {
    const packed = npmPack(spec, scratch);
    const tgz = readFileSync(packed.file);
    if (packed.integrity && packed.integrity !== sriSha512(tgz)) throw new BaseMismatchError(`${spec}: npm reported integrity ${packed.integrity}, the file has ${sriSha512(tgz)}`);
    const result = verifyAndExtract(tgz, { spec, file: info.binary, integrity: entry?.integrity, sha256: entry?.sha256 });
    mkdirSync(path.dirname(cached), { recursive: true });
    writeFileSync(`${cached}.tmp`, result.data, { mode: 0o755 });
    renameSync(`${cached}.tmp`, cached);
    if (!entry) {
      lock.bases[target] = { package: spec, integrity: result.integrity, file: info.binary, sha256: result.sha256, size: result.data.length };
      log(`  ${target}: pinned ${spec} (sha256 ${result.sha256.slice(0, 16)}...) in node-bases.lock.json`);
    }
    return { path: cached, sha256: result.sha256, fetched: true };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}
