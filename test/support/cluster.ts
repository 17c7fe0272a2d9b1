// A flashhub cluster for integration tests: one real redis-server (or a given one) and N real
// `flashhub serve` processes over it, each with its own data directory (and so its own admin socket)
// and one key prefix of their own, so several clusters can share a Redis and run side by side.
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { runCli, startFlashhub, tempDir, type CliResult, type RunningFlashhub } from './flashhub.ts';
import { startRedis, type RedisServer } from './redis.ts';

export interface ClusterNode {
  name: string;
  dir: string;
  server: RunningFlashhub;
  url: string;
  wsUrl: string;
  port: number;
}

export interface TestCluster {
  redis: RedisServer;
  /** What every node and CLI call of this cluster runs with. */
  env: NodeJS.ProcessEnv;
  nodes: ClusterNode[];
  /** `flashhub <args> --data <node's dir>`: through that node's admin socket while it runs. */
  cli(node: ClusterNode, args: string[], input?: string): Promise<CliResult>;
  /** Stops every node still running (SIGTERM, then SIGKILL), Redis if this cluster started it, and removes the directories. */
  stop(): Promise<void>;
}

export interface ClusterOptions {
  nodes?: number;
  env?: NodeJS.ProcessEnv;
  /** A Redis to share; by default the cluster starts (and stops) its own. */
  redis?: RedisServer;
}

export async function startCluster(options: ClusterOptions = {}): Promise<TestCluster> {
  const ownRedis = options.redis === undefined;
  const redis = options.redis ?? (await startRedis());
  const env: NodeJS.ProcessEnv = {
    FLASHHUB_REDIS_URL: redis.url,
    FLASHHUB_REDIS_PREFIX: `c${process.pid}-${randomBytes(4).toString('hex')}:`,
    FLASHHUB_NODE_TIMEOUT: '2',
    ...options.env,
  };
  const dirs: Awaited<ReturnType<typeof tempDir>>[] = [];
  const nodes: ClusterNode[] = [];
  const stop = async () => {
    await Promise.all(nodes.map((node) => stopNode(node.server)));
    if (ownRedis) await redis.stop();
    await Promise.all(dirs.map((dir) => dir.remove()));
  };
  try {
    const count = options.nodes ?? 3;
    for (let i = 0; i < count; i++) dirs.push(await tempDir('flashhub-node-'));
    // All at once: racing for the signing key is part of what a cluster must get right.
    const servers = await Promise.allSettled(dirs.map((dir) => startFlashhub(['--data', dir.path], { env })));
    servers.forEach((started, i) => {
      if (started.status !== 'fulfilled') return;
      const server = started.value;
      nodes.push({ name: String.fromCharCode(65 + i), dir: dirs[i]!.path, server, url: server.url, wsUrl: server.url.replace('http', 'ws'), port: server.port });
    });
    const failed = servers.find((started) => started.status === 'rejected');
    if (failed) throw failed.reason;
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    redis,
    env,
    nodes,
    cli: (node, args, input) => runCli([...args, '--data', node.dir], { env, input }),
    stop,
  };
}

/** SIGTERM, and SIGKILL if the node has not exited within 10 s; nothing if it is gone already. */
export async function stopNode(server: RunningFlashhub): Promise<void> {
  if (server.child.exitCode !== null || server.child.signalCode !== null) return;
  const timer = setTimeout(() => server.child.kill('SIGKILL'), 10_000);
  await server.stop('SIGTERM');
  clearTimeout(timer);
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Polls `probe` until it returns something other than undefined/false, and returns that; fails
 * after `timeoutMs` naming `what` and the last value seen.
 */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 5000, intervalMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      last = await probe();
      if (last !== undefined && last !== false) return last as T;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`);
    await sleep(intervalMs);
  }
}

export interface Answer {
  status: number;
  json: any;
  headers: Headers;
}

/** One JSON request, with a timeout; the answer's body parsed when it is JSON. */
export async function call(base: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}, timeoutMs = 5000): Promise<Answer> {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
    redirect: 'manual',
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await response.text();
  let json: unknown = text;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    // not JSON: keep the text
  }
  return { status: response.status, json, headers: response.headers };
}

/** A JSON POST from a given local address (127.0.0.x), to see per-address limits. */
export function postFrom(localAddress: string, port: number, path: string, body: unknown, timeoutMs = 5000): Promise<{ status: number; json: any; retryAfter?: string }> {
  return new Promise((resolve, reject) => {
    const request = http.request(
      { host: '127.0.0.1', port, path, method: 'POST', localAddress, timeout: timeoutMs, headers: { 'content-type': 'application/json' } },
      (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk) => (text += chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, json: JSON.parse(text), retryAfter: response.headers['retry-after'] as string | undefined }));
      },
    );
    request.on('timeout', () => request.destroy(new Error(`no answer to POST ${path} within ${timeoutMs} ms`)));
    request.on('error', reject);
    request.end(JSON.stringify(body));
  });
}

/** The promise's value, or a failure naming `what` after `ms`. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Everything that arrives on a stream or socket, kept in order, so a test can wait for one event,
 * count how often something came, or check what came between two points.
 */
export class Received<T> {
  readonly all: T[] = [];
  #wake = new Set<() => void>();

  push(item: T): void {
    this.all.push(item);
    for (const wake of this.#wake) wake();
  }

  /** The first item (from index `from` on) that matches, waiting up to `timeoutMs` for it. */
  async find(matches: (item: T) => boolean, timeoutMs = 3000, what = 'a matching event', from = 0): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.all.slice(from).find(matches);
      if (found !== undefined) return found;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${what}: none within ${timeoutMs} ms; received ${JSON.stringify(this.all).slice(-1500)}`);
      await new Promise<void>((resolve) => {
        const wake = () => {
          clearTimeout(timer);
          this.#wake.delete(wake);
          resolve();
        };
        const timer = setTimeout(wake, left);
        this.#wake.add(wake);
      });
    }
  }

  count(matches: (item: T) => boolean): number {
    return this.all.filter(matches).length;
  }
}
