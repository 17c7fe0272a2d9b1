// A real redis-server for tests (never a mock): its own port and temporary directory, configured
// as storage.md §7 recommends for durability (AOF, fsync before every reply, no RDB snapshots).
// restart() keeps the port and the data directory, so a test can kill Redis and see what an
// acknowledged write left behind.
//
// The binary is `redis-server` on PATH (Debian: apt-get install redis-server), or REDIS_SERVER.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export interface RedisServer {
  url: string;
  port: number;
  dir: string;
  /** Stops the server (SIGKILL: a crash; SIGTERM: a clean shutdown); the data directory stays. */
  kill(signal?: 'SIGKILL' | 'SIGTERM'): Promise<void>;
  /** Kills the server if it runs, then starts it again on the same port over the same data. */
  restart(signal?: 'SIGKILL' | 'SIGTERM'): Promise<void>;
  /** Stops the server for good and removes its data directory. */
  stop(): Promise<void>;
  /** The running server's process id (for CPU accounting in benchmarks); 0 while it is down. */
  pid(): number;
}

const binary = process.env.REDIS_SERVER ?? 'redis-server';
const READY = /Ready to accept connections/;

export async function startRedis(): Promise<RedisServer> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'flashhub-redis-'));
  const port = await freePort();
  let child: ChildProcess | undefined = await launch(dir, port);

  const kill = async (signal: 'SIGKILL' | 'SIGTERM' = 'SIGKILL'): Promise<void> => {
    const c = child;
    child = undefined;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise((resolve) => c.once('exit', resolve));
    c.ref(); // the wait for 'exit' must keep the process alive
    c.kill(signal);
    await exited;
  };

  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    dir,
    kill,
    pid: () => child?.pid ?? 0,
    async restart(signal = 'SIGKILL') {
      await kill(signal);
      child = await launch(dir, port);
    },
    async stop() {
      await kill('SIGKILL');
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Starts redis-server in the foreground and resolves once it accepts connections. */
async function launch(dir: string, port: number): Promise<ChildProcess> {
  const args = [
    '--port', String(port),
    '--bind', '127.0.0.1',
    '--dir', dir,
    '--save', '',
    '--appendonly', 'yes',
    '--appendfsync', 'always',
    '--daemonize', 'no',
    '--logfile', '',
  ];
  const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  // A test run that dies or forgets stop() must neither leave Redis behind nor hang on it.
  const reap = (): void => void child.kill('SIGKILL');
  process.once('exit', reap);
  child.once('exit', () => process.off('exit', reap));
  child.unref();
  let log = '';
  let ready = false;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => fail(new Error('redis-server did not start within 10 s')), 10_000);
    const fail = (err: Error): void => {
      if (ready) return;
      ready = true;
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new Error(`${err.message}\n${log}`));
    };
    child.once('error', (err) =>
      fail(new Error(`cannot run ${binary} (${err.message}); install Redis (apt-get install redis-server) or set REDIS_SERVER`)),
    );
    child.once('exit', (code, signal) => fail(new Error(`redis-server exited (${code ?? signal}) before it was ready`)));
    // Keep reading after start-up too, or a full pipe would block Redis's logging.
    const onData = (chunk: Buffer): void => {
      if (ready) return;
      log += chunk.toString();
      if (!READY.test(log)) return;
      ready = true;
      clearTimeout(timer);
      resolve();
    };
    for (const stream of [child.stdout, child.stderr]) {
      stream?.on('data', onData);
      (stream as unknown as { unref?: () => void } | null)?.unref?.();
    }
  });
  return child;
}

/** A port nothing listens on right now (the OS picks; Redis binds it a moment later). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}
