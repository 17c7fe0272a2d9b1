// Durable store benchmark (DESIGN.md §6, reference/storage.md §4): run as
//   node bench/store.ts [--quick] [--messages N] [--seconds S] [--rounds R]
// Prints a Markdown table for people and one JSON line per figure for machines.
//
// 1. durable appends/s, 1 and 256 closed-loop writers (each awaits its append), p50/p99 latency;
// 2. start-up with N stored messages (default 1,000,000 across 50 rooms, filled by a child
//    process with 512 writers) measured in a fresh process:
//    with sidecar indexes, with none (full scan), and after they were rebuilt; heap/RSS after
//    load; the first "latest 50 of a room" after the restart. The fill rate is reported too;
// 3. kill -9 rounds through the crash harness of the store's tests.

import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { FileStore } from '../src/store/file/file-store.ts';
import { runCrashRounds } from '../src/store/file/crash-harness.ts';

interface Figure {
  figure: string;
  value: number;
  unit: string;
  [k: string]: unknown;
}

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const arg = (name: string, dflt: number): number => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] !== undefined ? Number(args[i + 1]) : dflt;
};
const seconds = arg('--seconds', quick ? 1 : 3);
const totalMessages = arg('--messages', quick ? 100_000 : 1_000_000);
const rounds = arg('--rounds', quick ? 5 : 25);
const ROOMS = 50;
const figures: Figure[] = [];
const rows: string[][] = [];

function emit(f: Figure, label: string, shown: string): void {
  figures.push(f);
  rows.push([label, shown]);
  console.log(JSON.stringify({ bench: 'store', ...f }));
}

const text = (n: number): string => `hello, this is chat message number ${n} with a bit of text`;
const pct = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0;

async function appendRate(dir: string, writers: number): Promise<void> {
  const store = await FileStore.open({ dir });
  const lat: number[] = [];
  const end = performance.now() + seconds * 1000;
  const syncs0 = store.messages.stats().syncs;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: writers }, async (_, w) => {
      for (let i = 0; performance.now() < end; i++) {
        const t = performance.now();
        await store.messages.append(`room-${(w + i) % ROOMS}`, { from: w, text: text(i) });
        lat.push(performance.now() - t);
      }
    }),
  );
  const elapsed = (performance.now() - t0) / 1000;
  const syncs = store.messages.stats().syncs - syncs0;
  await store.close();
  lat.sort((a, b) => a - b);
  const rate = lat.length / elapsed;
  emit(
    { figure: `append_${writers}_writers`, value: Math.round(rate), unit: 'msg/s', p50ms: pct(lat, 0.5), p99ms: pct(lat, 0.99), messages: lat.length, syncs },
    `durable appends/s, ${writers} writer${writers > 1 ? 's' : ''} (p50 / p99)`,
    `${Math.round(rate).toLocaleString('en')} msg/s (${pct(lat, 0.5).toFixed(3)} / ${pct(lat, 0.99).toFixed(3)} ms; ${(lat.length / Math.max(syncs, 1)).toFixed(1)} msgs per fdatasync)`,
  );
}

async function fill(dir: string, n: number): Promise<void> {
  const writers = 512;
  const r = await runChild('fill-child.ts', [dir, String(n), String(ROOMS), String(writers)]);
  const rate = r.rate as number;
  const bytes = r.bytes as number;
  emit(
    { figure: 'fill_rate', value: Math.round(rate), unit: 'msg/s', writers, messages: n, bytes, segments: r.segments },
    `fill ${n.toLocaleString('en')} messages, ${writers} writers`,
    `${Math.round(rate).toLocaleString('en')} msg/s (${(bytes / 2 ** 20).toFixed(0)} MiB in ${r.segments as number} segments, ${(bytes / n).toFixed(0)} B/msg)`,
  );
}

/** Runs a helper from bench/store/ in a fresh process and returns the JSON it prints last. */
function runChild(script: string, childArgs: string[], node: string[] = []): Promise<Record<string, number | number[] | string[]>> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...node, path.join(import.meta.dirname, 'store', script), ...childArgs], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(JSON.parse(out.trim().split('\n').at(-1) ?? '{}')) : reject(new Error(`${script} exited ${code}`))));
  });
}

function openInChild(dir: string): Promise<Record<string, number | number[] | string[]>> {
  return runChild('open-child.ts', [dir, 'room-7'], ['--expose-gc']);
}

async function startup(dir: string, n: number): Promise<void> {
  const mdir = path.join(dir, 'messages');
  const runs: [string, string][] = [
    ['with_sidecars', 'with .idx sidecars'],
    ['full_scan', 'no sidecars (full scan)'],
    ['after_rebuild', 'sidecars rebuilt by the previous open'],
  ];
  for (const [key, label] of runs) {
    if (key === 'full_scan') for (const f of await fs.readdir(mdir)) if (f.endsWith('.idx')) await fs.rm(path.join(mdir, f));
    const r = await openInChild(dir);
    const openMs = r.openMs as number;
    emit(
      { figure: `startup_${key}`, value: Math.round(openMs), unit: 'ms', messages: n, ...r },
      `start-up, ${n.toLocaleString('en')} msgs, ${label}`,
      `${openMs.toFixed(0)} ms; heap ${(r.heapUsedMB as number).toFixed(0)} MB + index ${(r.arrayBuffersMB as number).toFixed(0)} MB, RSS ${(r.rssMB as number).toFixed(0)} MB`,
    );
    if (key === 'with_sidecars') {
      emit(
        { figure: 'latest50_after_restart', value: Number((r.latest50Ms as number).toFixed(3)), unit: 'ms', warmMs: r.latest50WarmMs, back500Ms: r.back500Ms, catchupMs: r.catchupMs },
        'latest 50 of a room after restart (then warm; 50 from 500 back)',
        `${(r.latest50Ms as number).toFixed(2)} ms (${(r.latest50WarmMs as number).toFixed(2)} ms; ${(r.back500Ms as number).toFixed(2)} ms)`,
      );
    }
  }
}

async function crash(dir: string): Promise<void> {
  const t0 = performance.now();
  const s = await runCrashRounds({ dir, rounds, writers: 16, segmentBytes: 128 * 1024 });
  const lost = s.lostMessages + s.duplicateMessages + s.seqProblems + s.lostNotifications + s.resurrectedNotifications;
  emit(
    { figure: 'kill9_lost', value: s.lostMessages, unit: 'messages', ...s, seconds: (performance.now() - t0) / 1000 },
    `kill -9: ${s.rounds} rounds, acked messages / lost`,
    `${s.ackedMessages.toLocaleString('en')} / ${s.lostMessages} (notifications acked ${s.ackedEnqueues.toLocaleString('en')}, lost ${s.lostNotifications}, back ${s.resurrectedNotifications}; ${s.compactions} compactions, ${s.snapshots} snapshots; violations ${lost})`,
  );
}

const root = await fs.mkdtemp(path.join(os.tmpdir(), 'flashhub-bench-store-'));
try {
  console.error(`# flashhub store bench in ${root} (node ${process.version}, ${os.cpus().length} CPU)`);
  await appendRate(path.join(root, 'a1'), 1);
  await appendRate(path.join(root, 'a256'), 256);
  await fill(path.join(root, 'big'), totalMessages);
  await startup(path.join(root, 'big'), totalMessages);
  await fs.rm(path.join(root, 'big'), { recursive: true, force: true });
  await crash(path.join(root, 'crash'));
} finally {
  await fs.rm(root, { recursive: true, force: true });
}

console.log('');
console.log('| figure | result |');
console.log('|---|---|');
for (const [a, b] of rows) console.log(`| ${a} | ${b} |`);
