// The scale-out store: the same Store contract as the file store, kept in Redis so several
// flashhub nodes can share it (storage.md §7). Key layout: keys.ts; scripts: scripts.ts.
//
// Durability is Redis's: a write resolves once Redis acknowledged it, which with
// `appendonly yes` + `appendfsync always` means after its AOF fsync. Run Redis like that, or
// accept losing up to a second of writes on a power cut with `everysec`. open() reports a
// `redis_not_durable` warning when the AOF is off.
//
// While Redis is unreachable every call rejects at once (see connection.ts); the connection
// keeps retrying in the background and calls succeed again once it is back.

import type { StoreExport, StoreImport, TransferableStore } from '../transfer.ts';
import type { StoreStats } from '../types.ts';
import { RedisConnection, type Reporter } from './connection.ts';
import { DEFAULT_PREFIX, Keys } from './keys.ts';
import { RedisMessageStore } from './message-store.ts';
import { RedisMetaStore } from './meta-store.ts';
import { RedisNotificationStore } from './notification-store.ts';
import { readOrCreateSecret } from './secret.ts';
import { StatsCache } from './stats.ts';
import { RedisStoreExport, RedisStoreImport } from './transfer.ts';

export interface RedisStoreOptions {
  /** redis://[user:password@]host:port[/db] or rediss:// for TLS. */
  url: string;
  /** Put before every key (default `fh:`), so several stores or apps can share one Redis. */
  keyPrefix?: string;
  report?: Reporter;
  /** How often stats() counters are exchanged with Redis (default 2 s). */
  statsIntervalMs?: number;
  /** A command without an answer for this long fails (default 10 s). */
  commandTimeoutMs?: number;
}

export class RedisStore implements TransferableStore {
  readonly kind = 'redis' as const;
  readonly meta: RedisMetaStore;
  readonly messages: RedisMessageStore;
  readonly notifications: RedisNotificationStore;
  /** flashhub migrate: everything read out, and records from another store written in. */
  readonly export: StoreExport;
  readonly import: StoreImport;
  readonly keyPrefix: string;
  #conn: RedisConnection;
  #stats: StatsCache;
  #closing: Promise<void> | undefined;

  private constructor(conn: RedisConnection, stats: StatsCache) {
    this.#conn = conn;
    this.#stats = stats;
    this.keyPrefix = conn.keys.prefix;
    this.meta = new RedisMetaStore(conn);
    this.messages = new RedisMessageStore(conn, stats);
    this.notifications = new RedisNotificationStore(conn, stats);
    const transfer = { conn, meta: this.meta, messages: this.messages, notifications: this.notifications };
    this.export = new RedisStoreExport(transfer);
    this.import = new RedisStoreImport(transfer);
  }

  /** Connects, checks the server version and reads the stats counters; rejects if Redis is not there. */
  static async open(options: RedisStoreOptions): Promise<RedisStore> {
    const keys = new Keys(options.keyPrefix ?? DEFAULT_PREFIX);
    const conn = await RedisConnection.open({
      url: options.url,
      keys,
      report: options.report ?? (() => {}),
      commandTimeoutMs: options.commandTimeoutMs,
    });
    const stats = new StatsCache(conn);
    try {
      await stats.refresh();
    } catch (err) {
      await conn.close();
      throw err;
    }
    stats.start(options.statsIntervalMs ?? 2000);
    return new RedisStore(conn, stats);
  }

  secret(name: string, bytes: number): Promise<Uint8Array> {
    return readOrCreateSecret(this.#conn, name, bytes);
  }

  ready(): boolean {
    return this.#conn.ready;
  }

  stats(): StoreStats {
    return this.#stats.snapshot();
  }

  /** Hands this node's counter changes to Redis, then quits after the replies in flight. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#stats.stop();
      await this.#conn.close(() => this.#stats.refresh());
    })();
    return this.#closing;
  }
}
