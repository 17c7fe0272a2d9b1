// The benchmark suite of issue 9:  node bench/run.ts [--quick] [--only name,name] [--rounds N]
// Each scenario runs flashhub and its baselines (bare ws / bare node:http SSE, Socket.IO 4) round by
// round, interleaved, the server pinned to core 0 and the load generator to core 1, and measures over
// the load generator's window: server CPU (/proc/<pid>/stat), load generator CPU, everyone else's CPU
// (/proc/stat minus both), server RSS. A round is inconclusive when other processes took more than
// 30% of a core, or, for throughput, when the server was not the bottleneck.
import path from 'node:path';
import { machineBusySeconds, nextJson, nodeBin, root, sample, spawnPinned, type Sample } from './lib/proc.ts';
import { startServer, type SystemName } from './servers/start.ts';
import { markdown, resultsFile, summarize, writeRecord, type RoundRecord, type ScenarioSummary, type Target } from './report.ts';
import { runStore } from './store-figures.ts';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const argValue = (name: string): string | undefined => {
  const i = args.findIndex((a) => a === name || a.startsWith(`${name}=`));
  if (i < 0) return undefined;
  return args[i]!.includes('=') ? args[i]!.slice(name.length + 1) : args[i + 1];
};
const rounds = Number(argValue('--rounds') ?? (quick ? 1 : 2));
const only = argValue('--only')?.split(',');
const date = new Date().toISOString();
const file = resultsFile();

type Kind = 'throughput' | 'memory' | 'latency';
interface Contender {
  system: 'flashhub' | 'bare' | 'sio';
  server: SystemName;
  config: Record<string, unknown>;
}
interface Scenario {
  name: string;
  load: string; // bench/load/<load>.ts
  kind: Kind;
  unit: string;
  contenders: Contender[];
  target?: Target;
  timeoutMs: number;
  /** Fewer rounds than the run's: idle memory varies by well under 5% between rounds. */
  maxRounds?: number;
}

const fan = (name: string, path: string, n: number, bare: SystemName, target: boolean): Scenario => ({
  name,
  load: 'fanout',
  kind: 'throughput',
  unit: 'deliveries/s',
  contenders: [
    { system: 'flashhub', server: 'flashhub', config: { path, subscribers: n, seconds: quick ? 1.5 : 3 } },
    { system: 'bare', server: bare, config: { subscribers: n, seconds: quick ? 1.5 : 3 } },
    { system: 'sio', server: 'sio', config: { subscribers: n, seconds: quick ? 1.5 : 3 } },
  ],
  target: target ? { bare: { kind: 'min', ratio: 3 }, sio: { kind: 'min', ratio: 5 } } : undefined,
  timeoutMs: 180_000,
});
// flashhub's token check on its real path against a bare upgrade without one. dm checks the token
// before the upgrade (like most clients' ?token=); presence's protocol needs a HELLO round trip more.
const storm = (name: string, path: string, target: boolean): Scenario => ({
  name,
  load: 'storm',
  kind: 'throughput',
  unit: 'connections/s',
  contenders: [
    { system: 'flashhub', server: 'flashhub', config: { path, connections: quick ? 3000 : 5000 } },
    { system: 'bare', server: 'ws-bare', config: { connections: quick ? 3000 : 5000 } },
    { system: 'sio', server: 'sio', config: { connections: quick ? 3000 : 5000 } },
  ],
  target: target ? { bare: { kind: 'min', ratio: 0.85 } } : undefined,
  timeoutMs: 180_000,
});
const idle = (name: string, path: string, n: number, bare: SystemName): Scenario => ({
  name,
  load: 'idle',
  kind: 'memory',
  unit: 'KB/connection',
  contenders: [
    { system: 'flashhub', server: 'flashhub', config: { path, connections: n } },
    { system: 'bare', server: bare, config: { connections: n } },
    { system: 'sio', server: 'sio', config: { connections: n } },
  ],
  target: { bare: { kind: 'max', ratio: 1.3 }, sio: { kind: 'max', ratio: 0.6 } },
  timeoutMs: 180_000,
  maxRounds: 1,
});

const idleN = quick ? 2000 : 10_000;
const scenarios: Scenario[] = [
  fan('fan-out 1k, presence online (WS)', 'presence-ws', 1000, 'ws-bare', true),
  fan('fan-out 1k, chat General (SSE)', 'chat-sse', 1000, 'sse-bare', true),
  fan('fan-out 1k, notify group (SSE)', 'notify-sse', 1000, 'sse-bare', true),
  ...(quick
    ? []
    : [
        fan('fan-out 10k, presence online (WS)', 'presence-ws', 10_000, 'ws-bare', true),
        fan('fan-out 10k, chat General (SSE)', 'chat-sse', 10_000, 'sse-bare', true),
        fan('fan-out 10k, chat General (WS)', 'chat-ws', 10_000, 'ws-bare', true),
        fan('fan-out 10k, notify group (SSE)', 'notify-sse', 10_000, 'sse-bare', true),
      ]),
  idle(`idle memory ${idleN / 1000}k, presence (WS)`, 'presence-ws', idleN, 'ws-bare'),
  idle(`idle memory ${idleN / 1000}k, dm (WS)`, 'dm-ws', idleN, 'ws-bare'),
  idle(`idle memory ${idleN / 1000}k, chat (SSE)`, 'chat-sse', idleN, 'sse-bare'),
  idle(`idle memory ${idleN / 1000}k, notify (SSE)`, 'notify-sse', idleN, 'sse-bare'),
  // the most one process can hold: 20,000 open files per process here, minus the server's own
  ...(quick
    ? []
    : [
        idle('idle memory 19.9k (the most one process holds), dm (WS)', 'dm-ws', 19_700, 'ws-bare'),
      ]),
  storm('connect storm, dm WebSocket with token', 'dm-ws', true),
  storm('connect storm, presence WebSocket + HELLO with token', 'presence-ws', false),
  {
    name: 'notify POST /api/message/notify (durable)',
    load: 'notify',
    kind: 'throughput',
    unit: 'requests/s',
    contenders: [
      { system: 'flashhub', server: 'flashhub', config: { seconds: quick ? 3 : 8 } },
      { system: 'bare', server: 'ws-bare', config: { seconds: quick ? 3 : 8 } },
    ],
    target: { bare: { kind: 'min', ratio: 0.8 } },
    timeoutMs: 120_000,
  },
  {
    name: `dm latency p99 at ${quick ? '1,000' : '5,000'} msg/s, ${quick ? '2k' : '10k'} idle`,
    load: 'dm',
    kind: 'latency',
    unit: 'ms (p99)',
    contenders: ['flashhub', 'bare', 'sio'].map((s) => ({
      system: s as Contender['system'],
      server: (s === 'bare' ? 'ws-bare' : s) as SystemName,
      config: { rate: quick ? 1000 : 5000, seconds: quick ? 2 : 6, idle: quick ? 2000 : 10_000, pairs: 50 },
    })),
    target: { bare: { kind: 'max', ratio: 2 } },
    timeoutMs: 240_000,
  },
];

/**
 * Waits (at most 10 s) until the machine is quiet: after a round is killed the kernel tears down its
 * thousands of sockets, and that work must not land in the next round's window as "other" CPU.
 */
async function settle(): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const before = machineBusySeconds();
    await new Promise((r) => setTimeout(r, 250));
    if ((machineBusySeconds() - before) / 0.25 < 0.1) return;
  }
}

async function runRound(s: Scenario, c: Contender, round: number): Promise<RoundRecord> {
  await settle();
  let server;
  try {
    server = await startServer(c.server);
  } catch (e) {
    return { scenario: s.name, system: c.system, server: c.server, round, value: NaN, unit: s.unit, serverCpu: 0, loadCpu: 0, otherCpu: 0, elapsed: 0, date, quick, inconclusive: `failed to start: ${(e as Error).message.slice(0, 300)}` };
  }
  // BENCH_PROFILE_LOAD=<dir>: the load generator runs under --cpu-prof (is it the bottleneck, and why?)
  const loadProfile = process.env.BENCH_PROFILE_LOAD ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(process.env.BENCH_PROFILE_LOAD)}`] : [];
  const load = spawnPinned(1, [nodeBin, ...loadProfile, path.join(root, 'bench/load', `${s.load}.ts`), JSON.stringify({ ...c.config, system: c.server, port: server.port })]);
  const marks = new Map<string, Sample>();
  let result: Record<string, any> | undefined;
  let error: string | undefined;
  try {
    const deadline = Date.now() + s.timeoutMs;
    while (!result) {
      const msg = await nextJson(load, Math.max(1000, deadline - Date.now()));
      if (msg.mark) {
        marks.set(msg.mark, sample(server.pid, load.pid));
        load.child.stdin!.write('ok\n');
      } else if (msg.result) result = msg.result;
    }
  } catch (e) {
    error = (e as Error).message.slice(0, 600);
  } finally {
    if (loadProfile.length) await Promise.race([load.exited, new Promise((r) => setTimeout(r, 15_000))]); // let it write the profile
    await load.kill();
    await server.stop();
  }
  const a = marks.get('start');
  const b = marks.get('end');
  const rec: RoundRecord = { scenario: s.name, system: c.system, server: c.server, round, value: NaN, unit: s.unit, serverCpu: 0, loadCpu: 0, otherCpu: 0, elapsed: 0, date, quick };
  if (error || !a || !b || !result) {
    rec.inconclusive = `failed: ${error ?? 'no result'}`;
    return rec;
  }
  const dt = b.t - a.t;
  const sc = b.serverCpu - a.serverCpu;
  const lc = b.loadCpu - a.loadCpu;
  rec.elapsed = dt;
  rec.serverCpu = sc / dt;
  rec.loadCpu = lc / dt;
  rec.otherCpu = Math.max(0, (b.machineCpu - a.machineCpu - sc - lc) / dt);
  rec.detail = result;
  if (s.kind === 'throughput') {
    rec.value = result.perSecond;
    rec.perServerCpuSecond = sc > 0 ? (result.perSecond * dt) / sc : undefined;
  } else if (s.kind === 'memory') {
    rec.value = (b.rss - a.rss) / 1024 / result.connections;
    rec.detail = { ...result, rssBefore: a.rss, rssAfter: b.rss };
  } else {
    rec.value = result.p99;
  }
  const why: string[] = [];
  if (rec.otherCpu > 0.3) why.push(`other processes ${(rec.otherCpu * 100).toFixed(0)}% CPU`);
  if (s.kind === 'throughput') {
    if (rec.serverCpu < 0.85) why.push(`server not the bottleneck (${(rec.serverCpu * 100).toFixed(0)}% CPU)`);
    if (rec.loadCpu > 0.9) why.push(`load generator saturated (${(rec.loadCpu * 100).toFixed(0)}% CPU)`);
  }
  if (result.complete === false) why.push(`incomplete: ${result.delivered ?? '?'} of ${result.expected ?? '?'}`);
  if (result.failed) why.push(`${result.failed} failed connections`);
  if (why.length) rec.inconclusive = why.join('; ');
  return rec;
}

const selected = scenarios.filter((s) => !only || only.some((o) => s.name.toLowerCase().includes(o.toLowerCase())));
const records: RoundRecord[] = [];
const summaries: ScenarioSummary[] = [];
const t0 = Date.now();
for (const s of selected) {
  for (let round = 1; round <= Math.min(rounds, s.maxRounds ?? rounds); round++) {
    // interleave: rotate the order every round
    const order = s.contenders.map((_, i) => s.contenders[(i + round - 1) % s.contenders.length]!);
    for (const c of order) {
      const rec = await runRound(s, c, round);
      records.push(rec);
      writeRecord(file, rec);
      console.error(
        `[${((Date.now() - t0) / 1000).toFixed(0)}s] ${s.name} r${round} ${c.server}: ${Number.isFinite(rec.value) ? rec.value.toFixed(2) : '–'} ${s.unit}` +
          ` (server ${(rec.serverCpu * 100).toFixed(0)}%, load ${(rec.loadCpu * 100).toFixed(0)}%, other ${(rec.otherCpu * 100).toFixed(0)}%)${rec.inconclusive ? ` INCONCLUSIVE: ${rec.inconclusive}` : ''}`,
      );
    }
  }
  summaries.push(summarize(s.name, records, s.target));
}

if (!only || only.some((o) => 'store'.includes(o.toLowerCase()))) {
  for (const rec of await runStore(quick, date)) {
    records.push(rec);
    writeRecord(file, rec);
    console.error(`[${((Date.now() - t0) / 1000).toFixed(0)}s] ${rec.scenario}: ${rec.value} ${rec.unit}`);
  }
  summaries.push(summarize('store appends/s, 1 writer', records));
  summaries.push(summarize('store appends/s, 256 writers', records, { absolute: { kind: 'min', value: 100_000 } }));
  summaries.push(summarize(`store start-up, ${quick ? '100k' : '1M'} messages`, records, quick ? undefined : { absolute: { kind: 'max', value: 500 } }));
}

console.log(`\nflashhub benchmarks (${quick ? 'quick, 1 round' : `${rounds} rounds, medians`}), ${date}; raw rounds in ${path.relative(root, file)}\n`);
console.log(markdown(summaries));
console.log('\nRatios are flashhub/baseline from the same round (median over rounds). Verdicts use conclusive rounds only; figures in italics come from inconclusive rounds and are not results.');
