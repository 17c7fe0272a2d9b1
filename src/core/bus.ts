// Publish/subscribe between hubs and nodes. In-process here; the Redis bus (scale-out) implements
// the same interface. Payloads are shared between subscribers, so they must be treated as read-only.
import type { Logger } from '../log.ts';

export type BusHandler = (payload: unknown, channel: string) => void;

export interface Bus {
  publish(channel: string, payload: unknown): void;
  /** Returns the function that unsubscribes. */
  subscribe(channel: string, handler: BusHandler): () => void;
  close(): Promise<void>;
}

export class LocalBus implements Bus {
  readonly #channels = new Map<string, Set<BusHandler>>();
  readonly #log: Logger;

  constructor(log: Logger) {
    this.#log = log;
  }

  publish(channel: string, payload: unknown): void {
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

  async close(): Promise<void> {
    this.#channels.clear();
  }
}
