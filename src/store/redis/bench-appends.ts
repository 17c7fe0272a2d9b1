// Appends per second through RedisStore with 1 and 256 concurrent writers, against a local
// redis-server started as the tests start it (AOF, appendfsync always), or REDIS_URL.
//
//   node_modules/.bin/node src/store/redis/bench-appends.ts [seconds per run, default 5]
//
// Each writer awaits its append before the next, as a hub does per client message.

import { startRedis, type RedisServer } from '../../../test/support/redis.ts';
import { RedisStore } from './redis-store.ts';

interface Run {
  writers: number;
  rooms: 'one room' | 'a room each';
}

const RUNS: Run[] = [
  { writers: 1, rooms: 'one room' },
  { writers: 16, rooms: 'a room each' },
  { writers: 256, rooms: 'a room each' },
  { writers: 256, rooms: 'one room' },
];

async function measure(store: RedisStore, run: Run, seconds: number, tag: string): Promise<string> {
  const latencies: number[] = [];
  const until = performance.now() + seconds * 1000;
  const text = 'x'.repeat(100);
  const writer = async (w: number): Promise<void> => {
    const room = run.rooms === 'one room' ? `${tag}-hot` : `${tag}-${w}`;
    while (performance.now() < until) {
      const t = performance.now();
      await store.messages.append(room, { from: w, text, cid: `${w}-${latencies.length}` });
      latencies.push(performance.now() - t);
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: run.writers }, (_, w) => writer(w)));
  const elapsed = (performance.now() - t0) / 1000;
  latencies.sort((a, b) => a - b);
  const q = (p: number): string => (latencies[Math.floor(p * (latencies.length - 1))] ?? 0).toFixed(2);
  const rate = Math.round(latencies.length / elapsed);
  return `${String(run.writers).padStart(3)} writers, ${run.rooms.padEnd(11)}: ${String(rate).padStart(6)} appends/s  p50 ${q(0.5)} ms  p99 ${q(0.99)} ms`;
}

async function main(): Promise<void> {
  const seconds = Number(process.argv[2] ?? 5);
  let server: RedisServer | undefined;
  const url = process.env.REDIS_URL ?? (server = await startRedis()).url;
  const store = await RedisStore.open({ url, keyPrefix: `bench-${process.pid}:` });
  try {
    console.log(`RedisStore appends, ${seconds} s per run, ${server ? 'local redis-server (appendonly yes, appendfsync always)' : url}`);
    for (const [i, run] of RUNS.entries()) console.log(await measure(store, run, seconds, `r${i}`));
  } finally {
    await store.close();
    await server?.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
