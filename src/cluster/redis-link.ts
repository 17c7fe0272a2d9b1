// A node's two connections to the cluster's Redis: one for commands and scripts, one for pub/sub
// (a subscribed connection can run nothing else). Both use the store's settings (fail fast while
// down, reconnect forever); ioredis subscribes again by itself after a reconnect.
import { Redis } from 'ioredis';
import { redactUrl, type Logger } from '../log.ts';
import { clientOptions } from '../store/redis/connection.ts';
import { CLUSTER_SCRIPTS, type ClusterScript } from './scripts.ts';

type ScriptFn = (numKeys: number, ...args: (string | number)[]) => Promise<unknown>;

export class RedisLink {
  readonly commands: Redis;
  readonly subscriber: Redis;
  readonly #log: Logger;
  readonly #reconnected = new Set<() => void>();
  #closed = false;
  #down = false;

  private constructor(url: string, log: Logger) {
    this.#log = log;
    this.commands = new Redis(url, clientOptions('flashhub-cluster'));
    this.subscriber = new Redis(url, clientOptions('flashhub-bus'));
    for (const s of CLUSTER_SCRIPTS) this.commands.defineCommand(s.name, { lua: s.lua });
  }

  static async open(url: string, log: Logger): Promise<RedisLink> {
    const link = new RedisLink(url, log);
    try {
      await Promise.all([link.commands.connect(), link.subscriber.connect()]);
    } catch (error) {
      link.commands.disconnect();
      link.subscriber.disconnect();
      throw new Error(`cannot reach Redis at ${redactUrl(url)}: ${(error as Error).message}`);
    }
    link.#watch();
    return link;
  }

  /** Both connections are up. */
  get ready(): boolean {
    return !this.#closed && this.commands.status === 'ready' && this.subscriber.status === 'ready';
  }

  /** Runs after every outage, once both connections are back (resubscribed). */
  onReconnected(fn: () => void): void {
    this.#reconnected.add(fn);
  }

  script(def: ClusterScript, keys: string[], args: (string | number)[]): Promise<unknown> {
    const fn = (this.commands as unknown as Record<string, ScriptFn>)[def.name]!;
    return fn.call(this.commands, keys.length, ...keys, ...args);
  }

  async close(): Promise<void> {
    this.#closed = true;
    await Promise.allSettled([this.commands.quit(), this.subscriber.quit()]);
    this.commands.disconnect();
    this.subscriber.disconnect();
  }

  #watch(): void {
    const lost = (error?: Error) => {
      if (this.#closed || this.#down) return;
      this.#down = true;
      this.#log.error('cluster.redis_unavailable', { error: error?.message ?? 'connection closed' });
    };
    const back = () => {
      if (this.#closed || !this.#down || !this.ready) return;
      this.#down = false;
      this.#log.info('cluster.redis_reconnected');
      for (const fn of this.#reconnected) fn();
    };
    for (const client of [this.commands, this.subscriber]) {
      client.on('error', lost).on('close', () => lost()).on('ready', back);
    }
  }
}
