// Store writes timed from the call to durability, whichever store is behind (the file store's group
// commit, a Redis script), and how many are waiting right now: the store's queue depth as the hubs
// feel it. A decorator, so neither store implementation knows about metrics.
import type { MessageStore, NewMessage, NotificationStore, PageOptions, Store, UserId } from '../store/types.ts';

export type StoreWrite = 'append' | 'delete' | 'trim' | 'enqueue' | 'ack' | 'clear';

export interface StoreWriteObserver {
  /** A write finished (resolved or failed) after `seconds`. */
  written(operation: StoreWrite, seconds: number, ok: boolean): void;
}

/** The writes under way, the gauge that /metrics reports as the store's queue depth. */
export class StoreTiming {
  inFlight = 0;
  readonly #observer: StoreWriteObserver;

  constructor(observer: StoreWriteObserver) {
    this.#observer = observer;
  }

  async time<T>(operation: StoreWrite, write: () => Promise<T>): Promise<T> {
    const started = performance.now();
    this.inFlight++;
    let ok = false;
    try {
      const result = await write();
      ok = true;
      return result;
    } finally {
      this.inFlight--;
      this.#observer.written(operation, (performance.now() - started) / 1000, ok);
    }
  }
}

class TimedMessageStore implements MessageStore {
  readonly #inner: MessageStore;
  readonly #timing: StoreTiming;

  constructor(inner: MessageStore, timing: StoreTiming) {
    this.#inner = inner;
    this.#timing = timing;
  }

  append(room: string, msg: NewMessage) {
    return this.#timing.time('append', () => this.#inner.append(room, msg));
  }
  delete(room: string, seq: number) {
    return this.#timing.time('delete', () => this.#inner.delete(room, seq));
  }
  trim(room: string, keepLast: number) {
    return this.#timing.time('trim', () => this.#inner.trim(room, keepLast));
  }
  get(room: string, seq: number) {
    return this.#inner.get(room, seq);
  }
  page(room: string, opts?: PageOptions) {
    return this.#inner.page(room, opts);
  }
  latestSeq(room: string) {
    return this.#inner.latestSeq(room);
  }
  count(room: string) {
    return this.#inner.count(room);
  }
}

class TimedNotificationStore implements NotificationStore {
  readonly #inner: NotificationStore;
  readonly #timing: StoreTiming;

  constructor(inner: NotificationStore, timing: StoreTiming) {
    this.#inner = inner;
    this.#timing = timing;
  }

  enqueue(users: UserId[], payload: unknown) {
    return this.#timing.time('enqueue', () => this.#inner.enqueue(users, payload));
  }
  ack(user: UserId, ids: number[]) {
    return this.#timing.time('ack', () => this.#inner.ack(user, ids));
  }
  clear(user: UserId) {
    return this.#timing.time('clear', () => this.#inner.clear(user));
  }
  pending(user: UserId, opts?: { afterId?: number; limit?: number }) {
    return this.#inner.pending(user, opts);
  }
}

/** The same store, with its message and notification writes timed. */
export function timedStore(store: Store, timing: StoreTiming): Store {
  const messages = new TimedMessageStore(store.messages, timing);
  const notifications = new TimedNotificationStore(store.notifications, timing);
  return {
    kind: store.kind,
    ready: () => store.ready(),
    meta: store.meta,
    messages,
    notifications,
    secret: (name, bytes) => store.secret(name, bytes),
    stats: () => store.stats(),
    close: () => store.close(),
  };
}
