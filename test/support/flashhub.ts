// Runs the real flashhub command for integration tests: the sources by default, or a built executable
// when FLASHHUB_BIN names one (so the same tests check the release artifact).
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { RedisStore } from '../../src/store/redis/redis-store.ts';
import { startRedis, type RedisServer } from './redis.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
export const command: string[] = process.env.FLASHHUB_BIN
  ? [path.resolve(process.env.FLASHHUB_BIN)]
  : [process.execPath, path.join(root, 'src/cli/main.ts')];

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  input?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  timeoutMs?: number;
}

/** The environment tests start from: none of the developer's FLASHHUB_* or seed variables leak in. */
export function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!/^(FLASHHUB_|PORT$|HTTP_HOST$|JWT_|CLIENT_|ORIGIN$|NODE_OPTIONS$|NODE_TEST)/.test(name)) env[name] = value;
  }
  return { ...env, ...extra };
}

/**
 * FLASHHUB_TEST_STORE=redis runs the same tests on the Redis store: one real redis-server per test
 * process, and each data directory its own key prefix, so a server and the CLI calls made beside
 * it (both name the directory) share a store, and nothing else does.
 */
export const testStore: 'file' | 'redis' = process.env.FLASHHUB_TEST_STORE === 'redis' ? 'redis' : 'file';
let sharedRedis: Promise<RedisServer> | undefined;

/** The token signing key of the store in a data directory (a file there, or a key in the test Redis). */
export async function signingKey(dataDir: string): Promise<Uint8Array> {
  if (testStore === 'file') return readFile(path.join(dataDir, 'secrets', 'signing.key'));
  const env = await storeEnv(['--data', dataDir], {});
  const store = await RedisStore.open({ url: env.FLASHHUB_REDIS_URL!, keyPrefix: env.FLASHHUB_REDIS_PREFIX });
  try {
    return await store.secret('signing', 32);
  } finally {
    await store.close();
  }
}

async function storeEnv(args: string[], options: RunOptions): Promise<NodeJS.ProcessEnv> {
  if (testStore === 'file' || options.env?.FLASHHUB_REDIS_URL !== undefined || args.includes('--redis')) return {};
  const redis = await (sharedRedis ??= startRedis());
  const i = args.findIndex((arg) => arg === '--data' || arg.startsWith('--data='));
  const data = i < 0 ? (options.env?.FLASHHUB_DATA ?? 'flashhub-data') : args[i]!.includes('=') ? args[i]!.slice(7) : args[i + 1]!;
  const dir = path.resolve(options.cwd ?? os.tmpdir(), data);
  return { FLASHHUB_REDIS_URL: redis.url, FLASHHUB_REDIS_PREFIX: `t${createHash('sha1').update(dir).digest('hex').slice(0, 12)}:` };
}

export async function runCli(args: string[], options: RunOptions = {}): Promise<CliResult> {
  const [file, ...prefix] = command as [string, ...string[]];
  const env = cleanEnv({ ...(await storeEnv(args, options)), ...options.env });
  const child = spawn(file, [...prefix, ...args], { cwd: options.cwd ?? os.tmpdir(), env });
  child.stdin.end(options.input ?? '');
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30_000);
  return new Promise((resolve) => {
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

export interface RunningFlashhub {
  child: ChildProcess;
  port: number;
  url: string;
  /** Every JSON log line so far. */
  logs: Record<string, unknown>[];
  /** Sends the signal and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  exited: Promise<number | null>;
}

/** Starts `flashhub serve --port 0` and resolves once it logged server.started. */
export async function startFlashhub(args: string[], options: RunOptions = {}): Promise<RunningFlashhub> {
  const [file, ...prefix] = command as [string, ...string[]];
  const child = spawn(file, [...prefix, 'serve', '--port', '0', '--host', '127.0.0.1', ...args], {
    cwd: options.cwd ?? os.tmpdir(),
    env: cleanEnv({ FLASHHUB_LOG_FORMAT: 'json', ...(await storeEnv(args, options)), ...options.env }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: Record<string, unknown>[] = [];
  let stderr = '';
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`flashhub did not start within 20 s:\n${stderr}`));
    }, options.timeoutMs ?? 20_000);
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      stderr += chunk;
      let end;
      while ((end = stderr.indexOf('\n')) >= 0) {
        const line = stderr.slice(0, end);
        stderr = stderr.slice(end + 1);
        let record: Record<string, unknown>;
        try {
          record = JSON.parse(line);
        } catch {
          record = { event: 'unparsed', line };
        }
        logs.push(record);
        if (record.event === 'server.started') {
          clearTimeout(timer);
          const listening = (record.listening as string[])[0]!;
          const port = Number(listening.slice(listening.lastIndexOf(':') + 1));
          resolve({
            child,
            port,
            url: `http://127.0.0.1:${port}`,
            logs,
            exited,
            stop: (signal = 'SIGTERM') => {
              child.kill(signal);
              return exited;
            },
          });
        }
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`flashhub exited with ${code} before starting:\n${logs.map((l) => JSON.stringify(l)).join('\n')}\n${stderr}`));
    });
  });
}

export async function tempDir(prefix = 'flashhub-test-'): Promise<{ path: string; remove(): Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  return { path: dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** Resolves with the first log line (already seen or still to come) that matches. */
export async function waitForLog(server: RunningFlashhub, matches: (line: Record<string, unknown>) => boolean, timeoutMs = 5000): Promise<Record<string, unknown>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const line = server.logs.find(matches);
    if (line) return line;
    if (Date.now() > deadline) throw new Error(`no matching log line within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
