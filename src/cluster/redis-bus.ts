// The bus across the nodes of a cluster: Redis pub/sub. Every message, this node's too, comes back
// through Redis, so every node sees each channel's messages in one order with one numbering (the
// publish script numbers and publishes atomically). While Redis is down, publishing fails (logged
// once per outage) and nothing arrives; what was acknowledged is in the store and is replayed to
// clients that resume.
import { randomBytes } from 'node:crypto';
import type { Bus, BusHandler } from '../core/bus.ts';
import { Subscribers } from '../core/bus.ts';
import type { Logger } from '../log.ts';
import type { ClusterKeys } from './keys.ts';
import type { RedisLink } from './redis-link.ts';
import { BUS_PUBLISH } from './scripts.ts';

export class RedisBus implements Bus {
  readonly #link: RedisLink;
  readonly #keys: ClusterKeys;
  readonly #log: Logger;
  readonly #subscribers: Subscribers;
  readonly #published = new Map<string, number>();
  #failing = false;

  private constructor(link: RedisLink, keys: ClusterKeys, log: Logger) {
    this.#link = link;
    this.#keys = keys;
    this.#log = log;
    this.#subscribers = new Subscribers(log);
  }

  static async open(link: RedisLink, keys: ClusterKeys, log: Logger): Promise<RedisBus> {
    const bus = new RedisBus(link, keys, log);
    link.subscriber.on('pmessage', (_pattern: string, channel: string, message: string) => bus.#receive(channel, message));
    await link.subscriber.psubscribe(keys.busPattern);
    return bus;
  }

  publish(channel: string, payload: unknown): void {
    this.#published.set(channel, (this.#published.get(channel) ?? 0) + 1);
    const args = [this.#keys.busChannel(channel), randomBytes(4).toString('hex'), JSON.stringify(payload)];
    this.#link.script(BUS_PUBLISH, [this.#keys.busSeq(channel), this.#keys.busEpoch], args).then(
      () => {
        if (this.#failing) this.#log.info('bus.publish_recovered');
        this.#failing = false;
      },
      (error: Error) => {
        if (!this.#failing) this.#log.error('bus.publish_failed', { channel, error: error.message });
        this.#failing = true;
      },
    );
  }

  subscribe(channel: string, handler: BusHandler): () => void {
    return this.#subscribers.add(channel, handler);
  }

  publishedCounts(): Record<string, number> {
    return Object.fromEntries(this.#published);
  }

  async close(): Promise<void> {
    this.#subscribers.clear();
  }

  #receive(redisChannel: string, message: string): void {
    const channel = redisChannel.slice(this.#keys.busChannel('').length);
    const first = message.indexOf(' ');
    const second = message.indexOf(' ', first + 1);
    if (first < 0 || second < 0) return;
    let payload: unknown;
    try {
      payload = JSON.parse(message.slice(second + 1));
    } catch {
      this.#log.warn('bus.bad_message', { channel });
      return;
    }
    this.#subscribers.deliver(payload, { channel, epoch: message.slice(0, first), seq: Number(message.slice(first + 1, second)) });
  }
}
