// npm run test:release: checks the five release executables the way a user would get them.
//
//   linux-x64     native: --version, NODE_OPTIONS ignored, user/client commands, serve + HTTP probes,
//                 start-up time to the first /healthz 200 (median of 10), the integration tests
//                 against the executable
//   linux-arm64   the same basics under qemu-user (emulated: times are not representative)
//   win-x64       under wine (win10 mode; stdout/stderr to files; HTTP probed from the host)
//   macos-*       cannot run here: Mach-O structure (NODE_SEA segment, fuse, LC_CODE_SIGNATURE), our
//                 verifier over every page hash, llvm-objdump, and the signer against the Go linker
//   archives      tar/zip contents and SHA256SUMS
//   reproducible  a second build gives the same SHA256SUMS
//
// Debian packages it needs are installed here when missing (root only): qemu-user-static and the
// arm64 runtime libraries, wine64 + wine, golang-go, llvm-14. Options:
//   --reuse        test the executables already in dist/ when SHA256SUMS matches them (else build)
//   --quick        skip the integration tests and the reproducibility rebuild
//   --install-only install the Debian packages and stop
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, openSync, closeSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { readTar, readZip } from './release/archives.mjs';
import { parseSums, sha256File, verifySumsFile } from './release/checksums.mjs';
import { compareWithGo } from './release/go-signer-check.mjs';
import { verifyMachOSignature } from './release/macho-sign.mjs';
import { checkExecutable } from './release/sea.mjs';
import { NODE_VERSION, TARGETS, TARGET_NAMES, archiveName, executableName } from './release/targets.mjs';
import { gunzipSync } from 'node:zlib';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { values: opts } = parseArgs({
  options: {
    reuse: { type: 'boolean', default: false },
    quick: { type: 'boolean', default: false },
    'install-only': { type: 'boolean', default: false },
  },
});

const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
const version = pkg.version;
const dist = path.join(root, 'dist');
const exePath = (target) => path.join(dist, executableName('flashhub', version, target));
const work = mkdtempSync(path.join(os.tmpdir(), 'flashhub-release-test-'));
const results = [];
const figures = {};

function record(target, check, ok, detail = '') {
  if (extraEnv?.[target]) check += ` [${Object.entries(extraEnv[target]).map(([k, v]) => `${k}=${v}`).join(' ')}]`;
  const status = ok === null ? 'SKIP' : ok ? 'PASS' : 'FAIL';
  results.push({ target, check, status, detail });
  console.log(`[${status}] ${target} ${check}${detail ? `: ${detail}` : ''}`);
}

async function step(target, check, fn) {
  try {
    const detail = await fn();
    if (detail && typeof detail === 'object' && 'skip' in detail) record(target, check, null, detail.skip);
    else record(target, check, true, detail ?? '');
  } catch (error) {
    record(target, check, false, String(error instanceof Error ? error.message : error).split('\n').slice(0, 6).join(' | '));
  }
}

function assert(condition, message) {
  if (!condition) throw new Error(message);
}

function have(command) {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

// ------------------------------------------------------------------ Debian packages

function installPackages() {
  const wanted = {
    'qemu-user-static': 'qemu-aarch64-static',
    'libc6-arm64-cross': null,
    'libstdc++6-arm64-cross': null,
    'libatomic1-arm64-cross': null,
    wine64: null,
    wine: 'wine',
    'golang-go': 'go',
    'llvm-14': 'llvm-objdump-14',
  };
  const missing = Object.keys(wanted).filter((name) => spawnSync('dpkg', ['-s', name], { stdio: 'ignore' }).status !== 0);
  if (!missing.length) return;
  if (process.getuid?.() !== 0) {
    console.log(`missing Debian packages (not root, not installing): ${missing.join(' ')}`);
    return;
  }
  console.log(`installing Debian packages: ${missing.join(' ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  // wine64 alone runs win-x64 (no i386 architecture needed). A partly failed update (a mirror
  // syncing) is not fatal: the install below says whether what we need was found.
  spawnSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
  const result = spawnSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], { stdio: 'inherit', env });
  if (result.status !== 0) console.log('apt-get install failed; the checks that need those tools will be skipped or fail');
}

// ------------------------------------------------------------------ helpers

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

async function get(url, init = {}) {
  const response = await fetch(url, { ...init, signal: AbortSignal.timeout(init.timeout ?? 2000) });
  return { status: response.status, text: await response.text(), headers: response.headers };
}

/** Polls url until it answers 200; resolves with ms since `since` (hrtime bigint), or throws. */
async function waitFor200(url, since, timeoutMs, child) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child && child.exitCode !== null) throw new Error(`exited with ${child.exitCode} before answering`);
    try {
      const { status } = await get(url, { timeout: 1000 });
      if (status === 200) return Number(process.hrtime.bigint() - since) / 1e6;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  throw new Error(`no 200 from ${url} within ${timeoutMs} ms`);
}

function stop(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve(child.exitCode);
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
    child.kill('SIGTERM');
  });
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** A runner for one target: how to start the executable here (natively, qemu, wine). */
function runnerFor(target) {
  if (target === 'node+bundle') return { cmd: process.execPath, prefix: [path.join(dist, 'flashhub.cjs')], env: {}, dataPath: (p) => p };
  const exe = exePath(target);
  if (target === 'linux-x64') return { cmd: exe, prefix: [], env: {}, dataPath: (p) => p };
  if (target === 'linux-arm64') {
    return { cmd: 'qemu-aarch64-static', prefix: [exe], env: { QEMU_LD_PREFIX: '/usr/aarch64-linux-gnu' }, dataPath: (p) => p };
  }
  if (target === 'win-x64') {
    return { cmd: 'wine', prefix: [exe], env: { WINEPREFIX: winePrefix, WINEDEBUG: '-all' }, dataPath: (p) => `Z:${p.replaceAll('/', '\\')}` };
  }
  return undefined;
}

const winePrefix = path.join(root, '.cache', 'wine');
/** Environment added to every run of a target (win-x64 may need FLASHHUB_SYNC=none, see below). */
const extraEnv = {};

/** Runs the CLI to completion with stdout/stderr in files (wine needs files, not pipes). */
function runCli(target, args, { input, env = {}, timeout = 120_000 } = {}) {
  env = { ...extraEnv[target], ...env };
  const runner = runnerFor(target);
  const out = path.join(work, `out-${process.hrtime.bigint()}`);
  const outFd = openSync(`${out}.stdout`, 'w');
  const errFd = openSync(`${out}.stderr`, 'w');
  let inFd = 'ignore';
  if (input !== undefined) {
    writeFileSync(`${out}.stdin`, input);
    inFd = openSync(`${out}.stdin`, 'r');
  }
  const result = spawnSync(runner.cmd, [...runner.prefix, ...args], {
    stdio: [inFd, outFd, errFd],
    env: { ...process.env, ...runner.env, ...env },
    timeout,
    cwd: work,
  });
  closeSync(outFd);
  closeSync(errFd);
  if (typeof inFd === 'number') closeSync(inFd);
  return {
    code: result.status,
    signal: result.signal,
    stdout: readFileSync(`${out}.stdout`, 'utf8').replaceAll('\r\n', '\n'),
    stderr: readFileSync(`${out}.stderr`, 'utf8').replaceAll('\r\n', '\n'),
  };
}

function startServer(target, port, data, extra = []) {
  const runner = runnerFor(target);
  const env = extraEnv[target] ?? {};
  const log = path.join(work, `serve-${target}-${port}.log`);
  const fd = openSync(log, 'w');
  const child = spawn(runner.cmd, [...runner.prefix, 'serve', '--port', String(port), '--host', '127.0.0.1', '--data', runner.dataPath(data), ...extra], {
    stdio: ['ignore', fd, fd],
    env: { ...process.env, ...runner.env, FLASHHUB_LOG_FORMAT: 'json', ...env },
    cwd: work,
  });
  closeSync(fd);
  return { child, log };
}

// ------------------------------------------------------------------ checks that run the executable

async function startupMedian(target, data, runs, timeoutMs) {
  const times = [];
  for (let i = 0; i < runs; i++) {
    const p = await freePort();
    const t0 = process.hrtime.bigint();
    const s = startServer(target, p, data);
    try {
      times.push(await waitFor200(`http://127.0.0.1:${p}/healthz`, t0, timeoutMs, s.child));
    } finally {
      await stop(s.child);
    }
  }
  return { median: median(times), min: Math.min(...times), max: Math.max(...times) };
}

async function runtimeChecks(target, { startupRuns = 0, timeoutMs = 20_000 } = {}) {
  const expected = `flashhub ${version} (commit `;
  const data = path.join(work, `data-${target}`);
  mkdirSync(data, { recursive: true });
  const runner = runnerFor(target);

  await step(target, '--version', () => {
    const r = runCli(target, ['--version']);
    assert(r.code === 0 && r.stdout.startsWith(expected), `exit ${r.code}, printed "${r.stdout.trim()}" ${r.stderr.trim()}`);
    return r.stdout.trim();
  });
  await step(target, 'NODE_OPTIONS ignored', () => {
    const r = runCli(target, ['--version'], { env: { NODE_OPTIONS: '--require /nonexistent/inject.js' } });
    assert(r.code === 0 && r.stdout.startsWith(expected), `exit ${r.code}: ${r.stderr.trim().slice(0, 200)}`);
    return 'NODE_OPTIONS="--require /nonexistent/inject.js" --version still works';
  });
  await step(target, 'user add / user list / client add', () => {
    const add = runCli(target, ['user', 'add', 'alice', '--data', runner.dataPath(data), '--password-stdin'], { input: 's3cret-pass\n' });
    assert(add.code === 0, `user add: exit ${add.code} ${add.stderr.trim()}`);
    const list = runCli(target, ['user', 'list', '--json', '--data', runner.dataPath(data)]);
    assert(list.code === 0 && /"alice"/.test(list.stdout), `user list: exit ${list.code} ${list.stdout} ${list.stderr.trim()}`);
    const client = runCli(target, ['client', 'add', 'billing-service', '--secret', 'billing-secret-0123456789', '--data', runner.dataPath(data)]);
    assert(client.code === 0, `client add: exit ${client.code} ${client.stderr.trim()}`);
    return 'alice and billing-service stored';
  });

  const port = await freePort();
  const since = process.hrtime.bigint();
  const server = startServer(target, port, data);
  const base = `http://127.0.0.1:${port}`;
  try {
    let firstMs;
    await step(target, 'serve: /healthz', async () => {
      firstMs = await waitFor200(`${base}/healthz`, since, timeoutMs, server.child);
      return `200 after ${firstMs.toFixed(0)} ms${target === 'linux-x64' ? '' : ' (emulated)'}`;
    });
    figures[`${target} first start (ms)`] = firstMs;
    await step(target, 'serve: hubs answer', async () => {
      const root = await get(`${base}/`);
      assert(root.status === 200 && root.text.includes('healthcheck!'), `GET / -> ${root.status} ${root.text.slice(0, 80)}`);
      const token = await get(`${base}/api/auth/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ client_id: 'billing-service', client_secret: 'billing-secret-0123456789' }) });
      assert(token.status === 200 && JSON.parse(token.text).access_token, `notify token -> ${token.status} ${token.text.slice(0, 120)}`);
      const login = await get(`${base}/chat/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'alice', password: 's3cret-pass' }) });
      assert(login.status === 200, `chat login -> ${login.status} ${login.text.slice(0, 120)}`);
      const ready = await get(`${base}/readyz`);
      assert(ready.status === 200, `/readyz -> ${ready.status}`);
      return 'GET / (healthcheck!), notify POST /api/auth/token, chat POST /chat/login, /readyz';
    });
    await step(target, 'serve: web console embedded', async () => {
      if (!existsSync(path.join(root, 'src/web/public'))) return { skip: 'no src/web/public in this checkout' };
      const page = await get(`${base}/`, { headers: { accept: 'text/html' }, redirect: 'follow' });
      assert(page.status === 200 && /<html/i.test(page.text), `GET / (browser) -> ${page.status} ${page.text.slice(0, 80)}`);
      return `GET / as a browser -> 200 HTML (${page.text.length} bytes), served from inside the executable`;
    });
  } finally {
    const code = await stop(server.child);
    if (target === 'win-x64') spawnSync('wineserver', ['-k'], { env: { ...process.env, WINEPREFIX: winePrefix } });
    if (target !== 'win-x64') {
      await step(target, 'serve: graceful stop on SIGTERM', () => {
        assert(code === 0, `exit code ${code}`);
        return 'exit 0';
      });
    }
  }

  if (startupRuns) {
    await step(target, `start-up to first /healthz 200 (median of ${startupRuns})`, async () => {
      const t = await startupMedian(target, data, startupRuns, timeoutMs);
      figures[`${target} start-up median (ms)`] = t.median;
      figures[`${target} start-up min (ms)`] = t.min;
      return `median ${t.median.toFixed(0)} ms, min ${t.min.toFixed(0)} ms, max ${t.max.toFixed(0)} ms${target === 'linux-x64' ? '' : ' (emulated)'}`;
    });
    if (target === 'linux-x64') {
      await step('node+bundle', `for comparison: node ${process.version} dist/flashhub.cjs (median of ${startupRuns})`, async () => {
        const t = await startupMedian('node+bundle', data, startupRuns, timeoutMs);
        figures['node+bundle start-up median (ms)'] = t.median;
        return `median ${t.median.toFixed(0)} ms, min ${t.min.toFixed(0)} ms, max ${t.max.toFixed(0)} ms`;
      });
    }
  }
}

// ------------------------------------------------------------------ main

async function build(label) {
  const t0 = Date.now();
  const r = spawnSync(process.execPath, [path.join(root, 'build.mjs'), '--release', '--frozen'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  const seconds = (Date.now() - t0) / 1000;
  writeFileSync(path.join(work, `build-${label}.log`), `${r.stdout}\n${r.stderr}`);
  if (r.status !== 0) throw new Error(`build failed:\n${r.stdout}\n${r.stderr}`);
  figures[`build ${label} (s)`] = seconds;
  console.log(r.stdout.toString().split('\n').filter((l) => /^(target|linux|macos|win|bases)/.test(l)).join('\n'));
  return seconds;
}

async function main() {
  installPackages();
  if (opts['install-only']) return;

  // 1. The executables (built now, or reused when SHA256SUMS vouches for them).
  const sumsFile = path.join(dist, 'SHA256SUMS');
  const complete = existsSync(sumsFile) && TARGET_NAMES.every((t) => existsSync(exePath(t)) && existsSync(path.join(dist, archiveName('flashhub', version, t))));
  if (opts.reuse && complete && (await verifySumsFile(sumsFile)).length === 0) {
    console.log('reusing the executables in dist/ (SHA256SUMS matches)');
  } else {
    console.log('building all five targets (npm run build -- --frozen)...');
    await build('1');
  }
  const firstSums = readFileSync(sumsFile, 'utf8');
  const firstBundle = await sha256File(path.join(dist, 'flashhub.cjs'));
  const blob = readFileSync(path.join(root, '.cache/sea/sea-prep.blob'));

  // 2. Structure of every executable, sizes, archives, checksums.
  for (const target of TARGET_NAMES) {
    const exe = readFileSync(exePath(target));
    figures[`${target} size (MiB)`] = exe.length / 1048576;
    figures[`${target} archive (MiB)`] = statSync(path.join(dist, archiveName('flashhub', version, target))).size / 1048576;
    await step(target, 'structure (fuse, blob, format)', () => {
      const { problems, details } = checkExecutable(exe, target, blob);
      assert(problems.length === 0, problems.join('; '));
      if (details.signature) return `ad-hoc signature valid, identifier ${details.signature.identifier}, ${details.signature.pages} page hashes verified`;
      if (details.pe) return `no Authenticode table left, PE checksum 0x${details.pe.checksum.toString(16)} valid`;
      return 'ELF, fuse flipped, blob embedded';
    });
    await step(target, 'archive', () => {
      const archive = readFileSync(path.join(dist, archiveName('flashhub', version, target)));
      const files = TARGETS[target].archive === 'zip' ? readZip(archive) : readTar(gunzipSync(archive));
      assert(files.length === 1, `${files.length} entries`);
      const [file] = files;
      assert(file.name === `flashhub${TARGETS[target].exe}` && file.mode === 0o755 && file.data.equals(exe), `entry ${file.name} mode ${file.mode.toString(8)} differs`);
      return `${file.name} (0755), identical to the executable`;
    });
  }
  await step('all', 'SHA256SUMS', async () => {
    const bad = await verifySumsFile(sumsFile);
    assert(bad.length === 0, `mismatch: ${bad.map((b) => b.name).join(', ')}`);
    const names = Object.keys(parseSums(firstSums));
    assert(names.length === 10, `${names.length} entries`);
    if (have('sha256sum')) {
      const r = spawnSync('sha256sum', ['-c', 'SHA256SUMS'], { cwd: dist });
      assert(r.status === 0, r.stdout.toString());
    }
    return '10 files, `sha256sum -c SHA256SUMS` OK';
  });

  // 3. macOS: llvm-objdump's view, the verifier against Apple's own signatures, and the Go linker.
  for (const target of ['macos-x64', 'macos-arm64']) {
    await step(target, 'llvm-objdump-14 load commands', () => {
      if (!have('llvm-objdump-14')) return { skip: 'llvm-objdump-14 not installed' };
      const text = execFileSync('llvm-objdump-14', ['--macho', '--private-headers', exePath(target)], { maxBuffer: 64 << 20 }).toString();
      assert(/cmd LC_CODE_SIGNATURE/.test(text), 'no LC_CODE_SIGNATURE');
      assert(/segname NODE_SEA/.test(text) && /sectname __NODE_SEA_BLOB/.test(text), 'no NODE_SEA,__NODE_SEA_BLOB');
      const minos = /minos ([\d.]+)/.exec(text)?.[1];
      return `LC_CODE_SIGNATURE, NODE_SEA/__NODE_SEA_BLOB present; minos ${minos}`;
    });
    await step(target, 'verifier agrees with Apple on the base', () => {
      const base = readFileSync(path.join(root, '.cache/node-bases', NODE_VERSION, target, 'node'));
      const report = verifyMachOSignature(base);
      assert(report.ok, report.errors.join('; '));
      return `${TARGETS[target].npm}@${NODE_VERSION}: Developer ID signature, all ${report.pagesChecked} page hashes and special slots recomputed`;
    });
  }
  await step('macos', 'signer byte-identical to the Go linker', () => {
    if (!have('go')) return { skip: 'golang-go not installed' };
    const dir = path.join(work, 'go');
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'main.go'), 'package main\n\nimport "fmt"\n\nfunc main() { fmt.Println("hello from go") }\n');
    writeFileSync(path.join(dir, 'go.mod'), 'module hello\n\ngo 1.19\n');
    const details = [];
    // Go signs darwin/arm64 only (amd64 Macs run unsigned code), so that is the one to compare with.
    for (const arch of ['arm64']) {
      const out = path.join(dir, `hello-${arch}`);
      execFileSync('go', ['build', '-o', out, '.'], {
        cwd: dir,
        env: { ...process.env, GOOS: 'darwin', GOARCH: arch, CGO_ENABLED: '0', GOFLAGS: '-mod=mod', GOCACHE: path.join(work, 'gocache'), GOPATH: path.join(work, 'gopath'), GOPROXY: 'off' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const r = compareWithGo(readFileSync(out));
      assert(r.verified, `our verifier rejects Go's darwin/${arch} signature: ${r.errors.join('; ')}`);
      assert(r.resignIdentical, `re-signing Go's darwin/${arch} output changes it`);
      assert(r.addIdentical, `signing the unsigned darwin/${arch} file differs from Go's`);
      details.push(`darwin/${arch} (${r.pages} pages)`);
    }
    const goVersion = execFileSync('go', ['version']).toString().trim().split(' ')[2];
    return `${goVersion}: ${details.join(', ')}: verified, re-sign and add-signature outputs identical`;
  });

  // 4. Running them: natively, under qemu-user, under wine.
  await runtimeChecks('linux-x64', { startupRuns: 10 });
  if (!opts.quick) {
    await step('linux-x64', 'integration tests against the executable', () => {
      const t0 = Date.now();
      const r = spawnSync(process.execPath, ['--test', '--test-concurrency=2', '--test-timeout=300000', 'test/**/*.test.ts'], {
        cwd: root,
        env: { ...process.env, FLASHHUB_BIN: exePath('linux-x64') },
        stdio: ['ignore', 'pipe', 'pipe'],
        maxBuffer: 256 << 20,
      });
      const out = r.stdout.toString();
      writeFileSync(path.join(work, 'integration.log'), out + r.stderr.toString());
      const count = (name) => Number(new RegExp(`^# ${name} (\\d+)`, 'm').exec(out)?.[1] ?? NaN);
      assert(r.status === 0, `${count('fail')} failed (log: ${path.join(work, 'integration.log')})`);
      return `${count('pass')} passed, ${count('fail')} failed, ${count('skipped')} skipped in ${((Date.now() - t0) / 1000).toFixed(0)} s`;
    });
  }

  if (have('qemu-aarch64-static') && existsSync('/usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1')) {
    await runtimeChecks('linux-arm64', { startupRuns: 3, timeoutMs: 60_000 });
  } else {
    record('linux-arm64', 'run under qemu-user', null, 'qemu-user-static or the arm64 libraries are missing');
  }

  if (have('wine')) {
    const init = spawnSync('wine', ['winecfg', '/v', 'win10'], { env: { ...process.env, WINEPREFIX: winePrefix, WINEDEBUG: '-all' }, stdio: 'ignore', timeout: 300_000 });
    if (init.status !== 0) record('win-x64', 'wine winecfg /v win10', false, `exit ${init.status}`);
    // The store fsyncs directories, which Windows refuses (EPERM): check the default first, and if
    // it fails, run the remaining checks with FLASHHUB_SYNC=none so they still say something.
    let defaultSyncWorks = false;
    await step('win-x64', 'store with the default sync (fsync)', () => {
      const dir = path.join(work, 'data-win-default');
      const r = runCli('win-x64', ['user', 'add', 'bob', '--data', runnerFor('win-x64').dataPath(dir), '--password-stdin'], { input: 's3cret-pass\n' });
      assert(r.code === 0, `user add: exit ${r.code}: ${r.stderr.trim().split('\n')[0]}`);
      defaultSyncWorks = true;
      return 'user add with fdatasync works';
    });
    if (!defaultSyncWorks) extraEnv['win-x64'] = { FLASHHUB_SYNC: 'none' };
    await runtimeChecks('win-x64', { timeoutMs: 90_000 });
    spawnSync('wineserver', ['-k'], { env: { ...process.env, WINEPREFIX: winePrefix } });
  } else {
    record('win-x64', 'run under wine', null, 'wine is not installed');
  }

  // 5. Reproducibility: build again, compare.
  if (!opts.quick) {
    await step('all', 'reproducible (second build, same SHA256SUMS)', async () => {
      const seconds = await build('2');
      const bundle = await sha256File(path.join(dist, 'flashhub.cjs'));
      assert(bundle === firstBundle, 'the sources changed between the two builds (dist/flashhub.cjs differs): not comparable');
      const second = readFileSync(sumsFile, 'utf8');
      assert(second === firstSums, `SHA256SUMS differ:\n${firstSums}\n---\n${second}`);
      return `rebuilt in ${seconds.toFixed(0)} s: all 10 artifacts bit-identical`;
    });
  }

  // 6. The table.
  console.log('\n== test:release results ==');
  const width = Math.max(...results.map((r) => r.check.length));
  for (const r of results) console.log(`${r.status.padEnd(5)} ${r.target.padEnd(12)} ${r.check.padEnd(width)}  ${r.detail}`);
  console.log('\n== figures ==');
  for (const [name, value] of Object.entries(figures)) if (value !== undefined) console.log(`${name.padEnd(40)} ${typeof value === 'number' ? value.toFixed(1) : value}`);
  const passed = results.filter((r) => r.status === 'PASS').length;
  const failed = results.filter((r) => r.status === 'FAIL').length;
  const skipped = results.filter((r) => r.status === 'SKIP').length;
  console.log(`\ntest:release: ${passed} passed, ${failed} failed, ${skipped} skipped`);
  if (failed) console.log(`logs kept in ${work}`);
  else rmSync(work, { recursive: true, force: true });
  process.exitCode = failed ? 1 : 0;
}

await main();
