// Publish/subscribe between hubs and nodes. In-process here; the Redis bus (scale-out) implements
// the same interface. Payloads are shared between subscribers, so they must be treated as read-only.
import type { Logger } from '../log.ts';

export type BusHandler = (payload: unknown, channel: string) => void;

export interface Bus {
  publish(channel: string, payload: unknown): void;
  /** Returns the function that unsubscribes. */
  subscribe(channel: string, handler: BusHandler): () => void;
  /** How many events were published per channel since start (for the admin view and metrics). */
  publishedCounts(): Record<string, number>;
  close(): Promise<void>;
}

export class LocalBus implements Bus {
  readonly #channels = new Map<string, Set<BusHandler>>();
  readonly #published = new Map<string, number>();
  readonly #log: Logger;

  constructor(log: Logger) {
    this.#log = log;
  }

  publish(channel: string, payload: unknown): void {
    this.#published.set(channel, (this.#published.get(channel) ?? 0) + 1);
    const handlers = this.#channels.get(channel);
    if (!handlers) return;
    for (const handler of handlers) {
      // One failing subscriber must not cost the others their delivery.
      try {
        handler(payload, channel);
      } catch (error) {
        this.#log.error('bus.handler_failed', { channel, error });
      }
    }
  }

  subscribe(channel: string, handler: BusHandler): () => void {
    let handlers = this.#channels.get(channel);
    if (!handlers) this.#channels.set(channel, (handlers = new Set()));
    handlers.add(handler);
    return () => {
      handlers.delete(handler);
      if (handlers.size === 0) this.#channels.delete(channel);
    };
  }

  publishedCounts(): Record<string, number> {
    return Object.fromEntries(this.#published);
  }

  async close(): Promise<void> {
    this.#channels.clear();
  }
}
