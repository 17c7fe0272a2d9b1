// 1 node against 3 nodes over one Redis (issue 10):  node bench/cluster.ts [--rounds N] [--subscribers N]
// Each round starts a fresh cluster (its own key prefix) on the same redis-server, runs the fan-out
// and notify loads of the main suite spread over its nodes, and measures deliveries or requests
// per second and the CPU the whole cluster (nodes + Redis) used for them. Nothing is pinned: the
// point is what more processes get out of this machine's cores. Results: bench/results/<date>.jsonl
// (scenario "cluster: ...") and a Markdown table on stdout.
import path from 'node:path';
import { startRedis } from '../test/support/redis.ts';
import { cpuSeconds, machineBusySeconds, nextJson, nodeBin, root, spawnPinned, treeCpuSeconds } from './lib/proc.ts';
import { resultsFile, writeRecord, type RoundRecord } from './report.ts';
import { startFlashhub, type RunningServer } from './servers/start.ts';

const args = process.argv.slice(2);
const argValue = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i < 0 ? undefined : args[i + 1];
};
const rounds = Number(argValue('--rounds') ?? 2);
const subscribers = Number(argValue('--subscribers') ?? 6000);
const cores = '0-1';
const date = new Date().toISOString();
const file = resultsFile();

interface Scenario {
  name: string;
  load: string;
  unit: string;
  config: Record<string, unknown>;
}
const scenarios: Scenario[] = [
  { name: `cluster: chat General fan-out, ${subscribers / 1000}k WebSocket subscribers`, load: 'fanout', unit: 'deliveries/s', config: { path: 'chat-ws', subscribers, seconds: 3 } },
  { name: 'cluster: notify POST /api/message/notify (durable in Redis)', load: 'notify', unit: 'requests/s', config: { seconds: 5 } },
];

const redis = await startRedis();
const results: { scenario: string; nodes: number; value: number; clusterCpu: number; loadCpu: number }[] = [];
let cluster = 0;
try {
  for (const s of scenarios) {
    for (let round = 1; round <= rounds; round++) {
      for (const nodes of round % 2 ? [1, 3] : [3, 1]) {
        const r = await runRound(s, nodes, `b${++cluster}:`);
        results.push({ scenario: s.name, nodes, ...r });
        const rec: RoundRecord = { scenario: `${s.name}, ${nodes} node${nodes > 1 ? 's' : ''}`, system: 'flashhub', server: 'flashhub', round, value: r.value, unit: s.unit, serverCpu: r.clusterCpu, loadCpu: r.loadCpu, otherCpu: 0, elapsed: r.elapsed, date, quick: false };
        writeRecord(file, rec);
        console.error(`${s.name}, ${nodes} node(s), r${round}: ${r.value.toFixed(0)} ${s.unit} (cluster ${(r.clusterCpu * 100).toFixed(0)}% of a core, load ${(r.loadCpu * 100).toFixed(0)}%)`);
      }
    }
  }
} finally {
  await redis.stop();
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
console.log(`\nflashhub over Redis, 1 node vs 3 nodes on this machine (${rounds} rounds, medians), ${date}\n`);
console.log('| scenario | 1 node | 3 nodes | 3 nodes / 1 node | cluster CPU (1 / 3 nodes), cores |');
console.log('|---|---|---|---|---|');
for (const s of scenarios) {
  const of = (n: number) => results.filter((r) => r.scenario === s.name && r.nodes === n);
  const one = median(of(1).map((r) => r.value));
  const three = median(of(3).map((r) => r.value));
  const cpu = (n: number) => median(of(n).map((r) => r.clusterCpu)).toFixed(2);
  console.log(`| ${s.name} | ${Math.round(one).toLocaleString('en-US')} ${s.unit} | ${Math.round(three).toLocaleString('en-US')} | ${(three / one).toFixed(2)} | ${cpu(1)} / ${cpu(3)} |`);
}

async function runRound(s: Scenario, nodes: number, prefix: string): Promise<{ value: number; clusterCpu: number; loadCpu: number; elapsed: number }> {
  const env = { FLASHHUB_REDIS_URL: redis.url, FLASHHUB_REDIS_PREFIX: prefix };
  const servers: RunningServer[] = [];
  try {
    // one at a time: the first creates the API client and the signing key, the others find them
    for (let i = 0; i < nodes; i++) servers.push(await startFlashhub(cores, env));
    const ports = servers.map((server) => server.port);
    const load = spawnPinned(cores, [nodeBin, path.join(root, 'bench/load', `${s.load}.ts`), JSON.stringify({ ...s.config, system: 'flashhub', port: ports[0], ports })]);
    const redisPid = redis.pid();
    const clusterCpu = () => servers.reduce((sum, server) => sum + cpuSeconds(server.pid), 0) + cpuSeconds(redisPid);
    const marks = new Map<string, { t: number; cluster: number; load: number; machine: number }>();
    let result: Record<string, any> | undefined;
    try {
      while (!result) {
        const msg = await nextJson(load, 180_000);
        if (msg.mark) {
          marks.set(msg.mark, { t: performance.now() / 1000, cluster: clusterCpu(), load: treeCpuSeconds(load.pid), machine: machineBusySeconds() });
          load.child.stdin!.write('ok\n');
        } else if (msg.result) result = msg.result;
      }
    } finally {
      await load.kill();
    }
    const a = marks.get('start')!;
    const b = marks.get('end')!;
    const dt = b.t - a.t;
    if (result.complete === false) console.error(`  incomplete: ${result.delivered} of ${result.expected}`);
    return { value: result.perSecond, clusterCpu: (b.cluster - a.cluster) / dt, loadCpu: (b.load - a.load) / dt, elapsed: dt };
  } finally {
    for (const server of servers) await server.stop();
  }
}
