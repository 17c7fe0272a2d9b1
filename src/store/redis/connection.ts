// One ioredis connection shared by the parts of the Redis store, with the settings that make a
// Redis outage visible at once instead of hanging requests.
//
// - enableOfflineQueue: false. While disconnected, a command fails immediately. The default queues
//   commands until Redis is back, so a hub would hold every request (and its memory) for as long
//   as Redis is down, and then replay stale writes.
// - maxRetriesPerRequest: 0 and autoResendUnfulfilledCommands: false. A command in flight when the
//   connection drops is rejected, never resent: Redis may have executed it already, and resending
//   an append would store the message twice (a caller retrying with its cid is safe instead).
// - retryStrategy: reconnect forever, backing off to 2 s; calls work again as soon as it is back.
// - commandTimeout: a Redis that accepts connections but does not answer (paused, swapping)
//   fails requests after a while rather than never.
// - protocol: 2. Replies keep their RESP2 shapes (no HELLO), which every Redis ≥ 6.2 speaks.

import { Redis, type RedisOptions } from 'ioredis';
import { redactUrl } from '../../log.ts';
import { StoreError } from '../types.ts';
import type { StoreEvent } from '../file/fsutil.ts';
import type { Keys } from './keys.ts';
import { ALL_SCRIPTS, type ScriptDef } from './scripts.ts';

export type Reporter = (event: StoreEvent) => void;

export interface ConnectionOptions {
  url: string;
  keys: Keys;
  report: Reporter;
  commandTimeoutMs?: number;
  connectTimeoutMs?: number;
}

/** ZRANGE with BYSCORE, REV and LIMIT (paging in one command) came in Redis 6.2. */
const MIN_VERSION = [6, 2];

type ScriptFn = (numKeys: number, ...args: (string | number | Buffer)[]) => Promise<unknown>;

export class RedisConnection {
  readonly client: Redis;
  readonly keys: Keys;
  readonly report: Reporter;
  #closed = false;
  #wasReady = false;
  #down = false;

  private constructor(client: Redis, keys: Keys, report: Reporter) {
    this.client = client;
    this.keys = keys;
    this.report = report;
  }

  /** Connects and checks the server; rejects (and stops reconnecting) if either fails. */
  static async open(o: ConnectionOptions): Promise<RedisConnection> {
    const client = new Redis(o.url, clientOptions('flashhub-store', o));
    for (const s of ALL_SCRIPTS) client.defineCommand(s.name, { lua: s.lua });
    const conn = new RedisConnection(client, o.keys, o.report);
    conn.#watch();
    try {
      await client.connect();
      await conn.#checkServer(o.url);
    } catch (err) {
      conn.#closed = true;
      client.disconnect();
      throw err;
    }
    return conn;
  }

  /** Reports losing and regaining Redis once per outage, not once per reconnect attempt. */
  #watch(): void {
    this.client.on('ready', () => {
      if (this.#down) this.report({ level: 'info', event: 'redis_reconnected' });
      this.#wasReady = true;
      this.#down = false;
    });
    this.client.on('error', (err: Error) => {
      if (this.#closed || this.#down || !this.#wasReady) return;
      this.#down = true;
      this.report({ level: 'error', event: 'redis_unavailable', detail: { error: err.message } });
    });
    this.client.on('close', () => {
      if (this.#closed || this.#down || !this.#wasReady) return;
      this.#down = true;
      this.report({ level: 'error', event: 'redis_unavailable', detail: { error: 'connection closed' } });
    });
  }

  async #checkServer(url: string): Promise<void> {
    let info: string;
    try {
      info = String(await this.client.info('server')) + String(await this.client.info('persistence'));
    } catch (err) {
      // Managed Redis services may rename INFO away; the scripts will tell soon enough if it is too old.
      this.report({ level: 'warn', event: 'redis_unchecked', detail: { reason: (err as Error).message, url: redactUrl(url) } });
      return;
    }
    const field = (name: string): string | undefined => new RegExp(`^${name}:(.*)$`, 'm').exec(info)?.[1]?.trim();
    const version = (field('redis_version') ?? '0').split('.').map(Number);
    const [major = 0, minor = 0] = version;
    if (major < (MIN_VERSION[0] as number) || (major === MIN_VERSION[0] && minor < (MIN_VERSION[1] as number))) {
      throw new StoreError('EINVAL', `${redactUrl(url)}: Redis ${field('redis_version')} is too old; the store needs ${MIN_VERSION.join('.')} or later`);
    }
    // Without the AOF an acknowledged write survives only until the next snapshot.
    if (field('aof_enabled') !== '1') {
      this.report({ level: 'warn', event: 'redis_not_durable', detail: { reason: 'appendonly is off', url: redactUrl(url) } });
    }
  }

  readonly #unavailable = (error: Error): never => {
    throw connectionFailure(error, this.client.status) ?? error;
  };

  /** Whether commands can be sent now (false while reconnecting). */
  get ready(): boolean {
    return !this.#closed && this.client.status === 'ready';
  }

  /** Throws ECLOSED once close() has begun; every public call starts with it. */
  live(): void {
    if (this.#closed) throw new StoreError('ECLOSED', 'store is closed');
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Runs a script defined in scripts.ts; keys first, as EVALSHA wants them. */
  script(def: ScriptDef, keys: string[], args: (string | number | Buffer)[]): Promise<unknown> {
    const fn = (this.client as unknown as Record<string, ScriptFn>)[def.name];
    if (!fn) throw new Error(`script ${def.name} is not defined`);
    return fn.call(this.client, keys.length, ...keys, ...args).catch(this.#unavailable);
  }

  call(command: string, ...args: (string | number | Buffer)[]): Promise<unknown> {
    return (this.client.call(command, args) as Promise<unknown>).catch(this.#unavailable);
  }

  /** MULTI/EXEC in one round trip; rejects with the first command's error. */
  async transaction(commands: (string | number | Buffer)[][]): Promise<unknown[]> {
    const replies = await this.client.multi(commands).exec().catch(this.#unavailable);
    if (!replies) throw new Error('redis transaction aborted');
    return replies.map(([err, value]) => {
      if (err) throw err;
      return value;
    });
  }

  /**
   * Refuses new calls at once, runs `last` (a final flush), then quits after the replies in
   * flight; drops the socket instead if Redis is gone.
   */
  async close(last?: () => Promise<void>): Promise<void> {
    this.#closed = true;
    await last?.().catch(() => {});
    try {
      await this.client.quit();
    } catch {
      this.client.disconnect();
    }
  }
}

/** The settings described at the top, for every connection flashhub makes to Redis (lazyConnect). */
export function clientOptions(connectionName: string, o: { commandTimeoutMs?: number; connectTimeoutMs?: number } = {}): RedisOptions {
  return {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 6), 2000),
    commandTimeout: o.commandTimeoutMs ?? 10_000,
    connectTimeout: o.connectTimeoutMs ?? 5_000,
    protocol: 2,
    connectionName,
  };
}

/**
 * Errors of the connection rather than of the command (no connection, dropped while in flight,
 * no answer in time) become EUNAVAILABLE, which the hubs answer with 503; Redis's own replies to a
 * bad command pass through unchanged.
 */
function connectionFailure(error: Error, status: string): StoreError | undefined {
  const lost = status !== 'ready' || /Connection is closed|Stream isn't writeable|Command timed out|MaxRetriesPerRequest/.test(error.message);
  return lost ? new StoreError('EUNAVAILABLE', `storage unavailable: ${error.message}`) : undefined;
}

