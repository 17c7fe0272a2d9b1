// Process plumbing for the bench: start a process pinned to one core, read its CPU time and RSS from
// /proc, and read the machine's busy time from /proc/stat (to tell how much CPU other processes took).
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export const root = fileURLToPath(new URL('../..', import.meta.url));
export const nodeBin = `${root}node_modules/.bin/node`;
const TICK = 100; // USER_HZ on Linux

/** CPU seconds of a process (utime+stime, plus its waited-for children's: wrk under a load generator). */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields after ")" start at field 3 (state): utime is field 14 → index 11
    return (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / TICK;
  } catch {
    return 0;
  }
}

/** CPU seconds of a process and its live descendants (the load generator's counter.c child). */
export function treeCpuSeconds(pid: number): number {
  let total = cpuSeconds(pid);
  try {
    for (const child of readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/)) {
      if (child) total += treeCpuSeconds(Number(child));
    }
  } catch {
    // gone, or no children file: its own time is all there is
  }
  return total;
}

export function rssBytes(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/**
 * Busy CPU seconds of the whole machine (all cores), from /proc/stat, without interrupt time: the
 * kernel handles loopback TCP (handshakes above all) in softirq context, charged to no process, and
 * that is the benchmark's own traffic, not other processes competing with it.
 */
export function machineBusySeconds(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal
  const busy = v[0]! + v[1]! + v[2]! + v[7]!;
  return busy / TICK;
}

export interface Sample {
  t: number;
  serverCpu: number;
  loadCpu: number;
  machineCpu: number;
  rss: number;
}

export function sample(serverPid: number, loadPid: number): Sample {
  return { t: performance.now() / 1000, serverCpu: cpuSeconds(serverPid), loadCpu: treeCpuSeconds(loadPid), machineCpu: machineBusySeconds(), rss: rssBytes(serverPid) };
}

export interface Pinned {
  child: ChildProcess;
  pid: number;
  /** JSON lines from stdout, one at a time. */
  lines: AsyncIterator<string>;
  stderr: () => string;
  exited: Promise<number | null>;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/** Runs `command` pinned to `core`, or to a list like "0-1" (taskset execs, so the pid is the command's). */
export function spawnPinned(core: number | string, command: string[], env: NodeJS.ProcessEnv = {}, cwd = root): Pinned {
  const merged: NodeJS.ProcessEnv = { ...process.env, ...env };
  for (const k of Object.keys(merged)) if (merged[k] === undefined) delete merged[k];
  const child = spawn('taskset', ['-c', String(core), ...command], { cwd, env: merged, stdio: ['pipe', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (c: string) => {
    err += c;
    if (err.length > 200_000) err = err.slice(-100_000);
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const rl = createInterface({ input: child.stdout! });
  const lines = rl[Symbol.asyncIterator]();
  return {
    child,
    pid: child.pid!,
    lines,
    stderr: () => err,
    exited,
    async kill(signal: NodeJS.Signals = 'SIGKILL') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
    },
  };
}

/** The next stdout line parsed as JSON, or an error after `ms`. */
export async function nextJson(p: Pinned, ms: number): Promise<Record<string, any>> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms; stderr: ${p.stderr().slice(-2000)}`)), ms)));
  try {
    for (;;) {
      const r = await Promise.race([p.lines.next(), timeout]);
      if (r.done) throw new Error(`process ${p.pid} ended; stderr: ${p.stderr().slice(-2000)}`);
      const line = r.value.trim();
      if (!line.startsWith('{')) continue;
      try {
        return JSON.parse(line);
      } catch {
        continue;
      }
    }
  } finally {
    clearTimeout(timer);
  }
}
