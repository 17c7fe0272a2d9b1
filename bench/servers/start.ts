// Starts one system under test pinned to core 0 and tells the load generator where it is:
// flashhub from its sources (the real CLI, a fresh data directory) or one of the baselines.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { nextJson, nodeBin, root, spawnPinned, type Pinned } from '../lib/proc.ts';

export type SystemName = 'flashhub' | 'ws-bare' | 'sse-bare' | 'sio';

export interface RunningServer {
  system: SystemName;
  pid: number;
  port: number;
  proc: Pinned;
  stop(): Promise<void>;
}

export const CLIENT_ID = 'bench-client';
export const CLIENT_SECRET = 'bench-client-secret-0123456789';

export async function startServer(system: SystemName, core = 0): Promise<RunningServer> {
  if (system === 'flashhub') return startFlashhub(core);
  const proc = spawnPinned(core, [nodeBin, path.join(root, 'bench/servers', `${system}.ts`)]);
  const { port } = await nextJson(proc, 15_000);
  return { system, pid: proc.pid, port, proc, stop: () => proc.kill('SIGKILL') };
}

/** flashhub from its sources on a fresh data directory; `extraEnv` e.g. makes it a cluster node. */
export async function startFlashhub(core: number | string, extraEnv: NodeJS.ProcessEnv = {}): Promise<RunningServer> {
  const data = await mkdtemp(path.join(os.tmpdir(), 'flashhub-bench-'));
  const env: NodeJS.ProcessEnv = {
    FLASHHUB_LOG_FORMAT: 'json',
    FLASHHUB_LOG_LEVEL: 'warn',
    FLASHHUB_CONNECTIONS_PER_USER: '100000',
    // every load generator connects from one address and sends as fast as it can
    FLASHHUB_CONNECTIONS_PER_ADDRESS: '1000000',
    FLASHHUB_MESSAGES_PER_SECOND: '100000',
    FLASHHUB_JWT_SECRET: 'bench-secret-bench-secret-bench-secret-0123',
    FLASHHUB_CLIENT_ID: CLIENT_ID,
    FLASHHUB_CLIENT_SECRET: CLIENT_SECRET,
    FLASHHUB_ORIGINS: '*',
    ...extraEnv,
  };
  for (const k of Object.keys(process.env)) if (/^(FLASHHUB_|PORT$|HTTP_HOST$|JWT_|CLIENT_|ORIGIN$|NODE_OPTIONS$)/.test(k) && !(k in env)) env[k] = undefined;
  // BENCH_PROFILE=<dir>: flashhub runs under --cpu-prof and is stopped with SIGTERM so the profile is written
  const profile = process.env.BENCH_PROFILE ? [`--cpu-prof`, `--cpu-prof-dir=${path.resolve(process.env.BENCH_PROFILE)}`] : [];
  const proc = spawnPinned(core, [nodeBin, ...profile, path.join(root, 'src/cli/main.ts'), 'serve', '--port', '0', '--host', '127.0.0.1', '--data', data], env, os.tmpdir());
  // server.started is an info line on stderr; warn level hides it, so poll /proc for the port instead
  const port = await waitForListen(proc, 20_000);
  return {
    system: 'flashhub',
    pid: proc.pid,
    port,
    proc,
    async stop() {
      if (profile.length) await proc.kill('SIGTERM');
      await proc.kill('SIGKILL');
      await rm(data, { recursive: true, force: true });
    },
  };
}

/** The TCP port the process listens on (its first LISTEN socket), found through /proc/net/tcp. */
async function waitForListen(proc: Pinned, ms: number): Promise<number> {
  const { readFileSync, readdirSync, readlinkSync } = await import('node:fs');
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (proc.child.exitCode !== null) throw new Error(`flashhub exited: ${proc.stderr().slice(-3000)}`);
    const inodes = new Set<string>();
    try {
      for (const fd of readdirSync(`/proc/${proc.pid}/fd`)) {
        try {
          const l = readlinkSync(`/proc/${proc.pid}/fd/${fd}`);
          const m = /^socket:\[(\d+)\]$/.exec(l);
          if (m) inodes.add(m[1]!);
        } catch {}
      }
    } catch {}
    if (inodes.size > 0) {
      for (const line of readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
        const f = line.trim().split(/\s+/);
        if (f[3] === '0A' && inodes.has(f[9]!)) {
          const port = parseInt(f[1]!.split(':')[1]!, 16);
          // answered?
          try {
            const r = await fetch(`http://127.0.0.1:${port}/healthz`);
            if (r.ok) return port;
          } catch {}
        }
      }
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`flashhub did not listen within ${ms} ms: ${proc.stderr().slice(-3000)}`);
}
