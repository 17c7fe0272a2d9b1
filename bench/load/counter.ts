// Drives counter.c (the receiving side of fan-out and storm loads, see its header for why it is C):
// compiles it once with the system's cc, opens connections through it and reports what it counted.
// It runs as this process's child, so it shares the load generator's core and its CPU counts as the
// load generator's.
import { spawn, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { config } from './clients.ts';

export type CounterConnection = { kind: 'ws'; path: string; hello?: string } | { kind: 'sse' | 'sio'; path: string };

export interface Counter {
  /** Messages counted so far (kept current from the counter's reports). */
  readonly count: number;
  opened: number;
  failed: number;
  /** How long opening every connection took, in seconds. */
  openSeconds: number;
  close(): void;
}

let built: string | undefined;
/** Compiles counter.c (once per version of it); call before a timed phase. */
export function counterBinary(): string {
  if (built) return built;
  const source = path.join(import.meta.dirname, 'counter.c');
  const hash = createHash('sha256').update(readFileSync(source)).digest('hex').slice(0, 12);
  const out = path.join(os.tmpdir(), `flashhub-bench-counter-${hash}`);
  if (!existsSync(out)) execFileSync('cc', ['-O2', '-o', out, source]);
  return (built = out);
}

/** Opens `connections` through the counter; resolves once every one is usable or has failed. */
export function openCounter(connections: CounterConnection[], onCount: (count: number) => void = () => {}, port: number = config.port): Promise<Counter> {
  const child = spawn(counterBinary(), [String(port)], { stdio: ['pipe', 'pipe', 'inherit'] });
  for (const c of connections) child.stdin.write(`${c.kind} ${c.path}${'hello' in c && c.hello ? ` ${c.hello}` : ''}\n`);
  child.stdin.write('go\n');
  const counter = { count: 0, opened: 0, failed: 0, openSeconds: 0, close: () => child.stdin.end() };
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code) => reject(new Error(`counter exited with ${code}`)));
    createInterface({ input: child.stdout }).on('line', (line) => {
      const [word, a, b, c] = line.split(' ');
      if (word === 'count') {
        counter.count = Number(a);
        onCount(counter.count);
      } else if (word === 'ready') {
        Object.assign(counter, { opened: Number(a), failed: Number(b), openSeconds: Number(c) / 1e6 });
        resolve(counter);
      }
    });
  });
}
