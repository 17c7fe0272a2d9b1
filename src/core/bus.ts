// Publish/subscribe between hubs and nodes. In-process here; the Redis bus (cluster/redis-bus.ts)
// implements the same interface across nodes. Payloads are shared between subscribers, so they
// must be treated as read-only.
//
// Every message is numbered per channel (seq, from 1) within an epoch, and every subscriber of a
// channel, on every node, sees the same numbers in the same order. A chat stream resumed on
// another node relies on that. A new epoch means the numbering started over.
import { randomBytes } from 'node:crypto';
import type { Logger } from '../log.ts';

export interface BusMessage {
  channel: string;
  epoch: string;
  seq: number;
}

export type BusHandler = (payload: unknown, message: BusMessage) => void;

export interface Bus {
  publish(channel: string, payload: unknown): void;
  /** Returns the function that unsubscribes. */
  subscribe(channel: string, handler: BusHandler): () => void;
  /** How many events were published per channel since start (for the admin view and metrics). */
  publishedCounts(): Record<string, number>;
  close(): Promise<void>;
}

/** The subscribers of each channel, and delivering to them one by one. */
export class Subscribers {
  readonly #channels = new Map<string, Set<BusHandler>>();
  readonly #log: Logger;

  constructor(log: Logger) {
    this.#log = log;
  }

  add(channel: string, handler: BusHandler): () => void {
    let handlers = this.#channels.get(channel);
    if (!handlers) this.#channels.set(channel, (handlers = new Set()));
    handlers.add(handler);
    return () => {
      handlers.delete(handler);
      if (handlers.size === 0) this.#channels.delete(channel);
    };
  }

  deliver(payload: unknown, message: BusMessage): void {
    const handlers = this.#channels.get(message.channel);
    if (!handlers) return;
    for (const handler of handlers) {
      // One failing subscriber must not cost the others their delivery.
      try {
        handler(payload, message);
      } catch (error) {
        this.#log.error('bus.handler_failed', { channel: message.channel, error });
      }
    }
  }

  clear(): void {
    this.#channels.clear();
  }
}

export class LocalBus implements Bus {
  readonly #subscribers: Subscribers;
  readonly #seq = new Map<string, number>();
  readonly #epoch = randomBytes(4).toString('hex');

  constructor(log: Logger) {
    this.#subscribers = new Subscribers(log);
  }

  publish(channel: string, payload: unknown): void {
    const seq = (this.#seq.get(channel) ?? 0) + 1;
    this.#seq.set(channel, seq);
    this.#subscribers.deliver(payload, { channel, epoch: this.#epoch, seq });
  }

  subscribe(channel: string, handler: BusHandler): () => void {
    return this.#subscribers.add(channel, handler);
  }

  publishedCounts(): Record<string, number> {
    return Object.fromEntries(this.#seq);
  }

  async close(): Promise<void> {
    this.#subscribers.clear();
  }
}
