// The release build: bundle (already made by build.mjs) -> base binaries -> SEA blob -> one
// executable per target -> archives -> SHA256SUMS. Nothing time-dependent enters any output, so
// two builds of the same commit are bit-identical.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { createTarGz, createZip } from './archives.mjs';
import { formatSums, sha256 } from './checksums.mjs';
import { ensureBase, readLock, writeLock } from './node-bases.mjs';
import { SEA_BLOB_FILE, makeSeaBlob } from './sea.mjs';
import { NODE_VERSION, TARGETS, archiveName, executableName, hostTarget } from './targets.mjs';

const MiB = 1024 * 1024;

function seconds(since) {
  return (Number(process.hrtime.bigint() - since) / 1e9).toFixed(1);
}

/**
 * options: { root, bundle, appName, version, commit, targets, frozen, archives, log }
 * Returns { artifacts: [{ target, executable, archive, size, archiveSize }], timings }.
 */
export async function buildRelease(options) {
  const { root, bundle, appName, version, commit, targets, frozen = false, archives = true, log = console.log } = options;
  const started = process.hrtime.bigint();
  const dist = path.join(root, 'dist');
  const cacheDir = path.join(root, '.cache');
  const lockFile = path.join(root, 'node-bases.lock.json');
  const timings = {};

  const host = hostTarget();
  if (!host) {
    throw new Error(`the SEA blob must be made by Node ${NODE_VERSION} for the build machine, and ${process.platform}-${process.arch} is not one of the targets`);
  }

  // 1. Base binaries (and the blob generator: the host's base), checked against the lock.
  let t = process.hrtime.bigint();
  log(`node bases: Node ${NODE_VERSION}${frozen ? ' (--frozen)' : ''}`);
  const lock = readLock(lockFile);
  const before = JSON.stringify(lock.bases);
  const bases = {};
  for (const target of [...new Set([host, ...targets])]) {
    bases[target] = await ensureBase({ target, version: NODE_VERSION, cacheDir, lock, frozen, log });
    log(`  ${target}: ${bases[target].fetched ? 'fetched from npm, verified' : 'cached, verified'} (${TARGETS[target].npm}@${NODE_VERSION})`);
  }
  if (JSON.stringify(lock.bases) !== before) {
    writeLock(lockFile, lock);
    log('  node-bases.lock.json updated: commit it');
  }
  timings.bases = seconds(t);

  // 2. The blob, made once by the host's pinned node; every target embeds the same blob.
  t = process.hrtime.bigint();
  const blob = makeSeaBlob({ generator: bases[host].path, main: bundle, workDir: path.join(cacheDir, 'sea') });
  timings.blob = seconds(t);
  log(`SEA blob: ${(blob.length / 1024).toFixed(0)} KiB from ${path.relative(root, bundle)}, made by ${TARGETS[host].npm}@${NODE_VERSION} (${timings.blob} s)`);

  // 3. One executable per target, two at a time (worker threads; postject is CPU-bound).
  mkdirSync(dist, { recursive: true });
  const blobPath = path.join(cacheDir, 'sea', SEA_BLOB_FILE);
  const artifacts = [];
  const buildOne = (target) => new Promise((resolve, reject) => {
    const out = path.join(dist, executableName(appName, version, target));
    const worker = new Worker(new URL('./inject-worker.mjs', import.meta.url), {
      workerData: { basePath: bases[target].path, blobPath, target, out, identifier: appName },
    });
    worker.once('message', (result) => {
      if (result.problems.length) return reject(new Error(`${path.basename(out)}: ${result.problems.join('; ')}`));
      timings[target] = result.seconds.toFixed(1);
      const note = result.details.signature ? `, ad-hoc signed (${result.details.signature.pages} pages verified)` : result.details.pe ? ', signature stripped, checksum ok' : '';
      log(`  ${path.basename(out)}: ${(result.size / MiB).toFixed(1)} MiB${note} (${timings[target]} s)`);
      resolve({ target, executable: out, size: result.size, sha256: result.sha256 });
    });
    worker.once('error', reject);
    worker.once('exit', (code) => code !== 0 && reject(new Error(`building ${target}: worker exited with ${code}`)));
  });
  t = process.hrtime.bigint();
  const queue = [...targets];
  const parallel = Math.max(1, Math.min(2, os.availableParallelism?.() ?? os.cpus().length, queue.length));
  const results = new Map();
  await Promise.all(Array.from({ length: parallel }, async () => {
    while (queue.length) {
      const target = queue.shift();
      results.set(target, await buildOne(target));
    }
  }));
  for (const target of targets) artifacts.push(results.get(target));
  timings.executables = seconds(t);

  // 4. The executable that runs here must start and print its version, with NODE_OPTIONS ignored.
  const runnable = artifacts.find((a) => a.target === host);
  if (runnable) {
    const expected = `${appName} ${version} (commit ${commit})`;
    const printed = execFileSync(runnable.executable, ['--version'], {
      env: { ...process.env, NODE_OPTIONS: '--require /nonexistent/flashhub-must-ignore-this.js' },
      stdio: ['ignore', 'pipe', 'pipe'],
    }).toString().trim();
    if (printed !== expected) throw new Error(`${path.basename(runnable.executable)} --version printed "${printed}", expected "${expected}"`);
    log(`  smoke: ${path.basename(runnable.executable)} --version -> ${printed} (NODE_OPTIONS ignored)`);
  }

  // 5. Archives (the executable alone, as `flashhub` / `flashhub.exe`) and SHA256SUMS.
  t = process.hrtime.bigint();
  const sums = {};
  await Promise.all(artifacts.map(async (artifact) => {
    sums[path.basename(artifact.executable)] = artifact.sha256;
    if (!archives) return;
    const info = TARGETS[artifact.target];
    const entry = { name: `${appName}${info.exe}`, data: readFileSync(artifact.executable), mode: 0o755 };
    const archive = info.archive === 'zip' ? await createZip([entry]) : await createTarGz([entry]);
    const file = path.join(dist, archiveName(appName, version, artifact.target));
    rmSync(file, { force: true });
    writeFileSync(file, archive);
    artifact.archive = file;
    artifact.archiveSize = archive.length;
    sums[path.basename(file)] = sha256(archive);
  }));
  writeFileSync(path.join(dist, 'SHA256SUMS'), formatSums(sums));
  timings.archives = seconds(t);
  timings.total = seconds(started);

  log('');
  log('target        executable            archive               time');
  for (const a of artifacts) {
    const size = `${(a.size / MiB).toFixed(1)} MiB`;
    const arch = a.archive ? `${(a.archiveSize / MiB).toFixed(1)} MiB ${TARGETS[a.target].archive}` : '-';
    log(`${a.target.padEnd(14)}${size.padEnd(22)}${arch.padEnd(22)}${timings[a.target]} s`);
  }
  log(`bases ${timings.bases} s, blob ${timings.blob} s, executables ${timings.executables} s (${parallel} at a time), archives ${timings.archives} s, total ${timings.total} s`);
  log(`wrote ${artifacts.length} executable(s)${archives ? ', archives' : ''} and dist/SHA256SUMS (${Object.keys(sums).length} files)`);
  return { artifacts, timings };
}

