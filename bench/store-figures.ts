// Scenario 6 through the existing store bench (bench/store.ts), run pinned to core 0: its JSON lines
// become round records (appends/s with 1 and 256 writers, start-up with N messages).
import path from 'node:path';
import { cpuSeconds, machineBusySeconds, nextJson, nodeBin, root, spawnPinned } from './lib/proc.ts';
import type { RoundRecord } from './report.ts';

export async function runStore(quick: boolean, date: string): Promise<RoundRecord[]> {
  const proc = spawnPinned(0, [nodeBin, path.join(root, 'bench/store.ts'), ...(quick ? ['--quick'] : []), '--rounds', quick ? '1' : '5']);
  const figures: Record<string, any>[] = [];
  const t0 = performance.now() / 1000;
  const m0 = machineBusySeconds();
  let own = 0;
  try {
    for (;;) {
      const f = await nextJson(proc, 600_000).catch(() => undefined);
      if (!f) break;
      if (f.bench === 'store') figures.push(f);
    }
    own = cpuSeconds(proc.pid); // after its children were waited for: includes them
  } finally {
    await proc.kill();
  }
  const dt = performance.now() / 1000 - t0;
  // the store bench runs on core 0 only; everything else the machine did meanwhile is "other"
  const other = Math.max(0, (machineBusySeconds() - m0 - own) / dt);
  const out: RoundRecord[] = [];
  const base = { system: 'flashhub', server: 'flashhub-store', round: 1, serverCpu: own / dt, loadCpu: 0, otherCpu: other, elapsed: dt, date, quick, ...(other > 0.3 ? { inconclusive: `other processes ${(other * 100).toFixed(0)}% CPU` } : {}) };
  for (const f of figures) {
    let scenario: string | undefined;
    if (f.figure === 'append_1_writers') scenario = 'store appends/s, 1 writer';
    else if (f.figure === 'append_256_writers') scenario = 'store appends/s, 256 writers';
    else if (f.figure === 'startup_with_sidecars') scenario = `store start-up, ${quick ? '100k' : '1M'} messages`;
    if (scenario && !out.some((r) => r.scenario === scenario)) out.push({ ...base, scenario, value: f.value, unit: f.unit, detail: f });
  }
  if (out.length < 3) console.error(`store bench figures: ${figures.map((f) => f.figure).join(', ')}`);
  return out;
}
