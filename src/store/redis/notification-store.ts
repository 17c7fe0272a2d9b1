// NotificationStore over Redis, all under the {notif} hash tag:
//
//   {notif}:next         INCRBY counter: ids are global and increase with every enqueue
//   {notif}:pending      how many are pending in total (for stats), kept by the scripts
//   {notif}:user:<id>    sorted set of one user's pending notifications: member = JSON (which
//                        carries the id), score = id. pending() is one ZRANGE ... BYSCORE LIMIT,
//                        an ack is ZREMRANGEBYSCORE id id, so a user can only ever ack their own.
//
// One slot for all users is the price of ids that are global *and* become visible in id order
// (taken and written in one script); notifications are small and short-lived.

import { StoreError, type Notification, type NotificationStore, type UserId } from '../types.ts';
import type { RedisConnection } from './connection.ts';
import { scanKeys } from './scan.ts';
import { ACK, CLEAR, ENQUEUE, IMPORT_NOTIFICATIONS, RAISE_COUNTER } from './scripts.ts';
import type { StatsCache } from './stats.ts';

const DEFAULT_LIMIT = 100;
const MAX_LIMIT = 1000;
/** Users per script call: bounds how long one script holds Redis for a broadcast. */
const ENQUEUE_CHUNK = 1000;

interface Stored {
  id: number;
  user: UserId;
  ts: number;
  payload?: unknown;
}

function toNotification(json: string): Notification {
  const r = JSON.parse(json) as Stored;
  return { id: r.id, user: r.user, ts: r.ts, payload: r.payload };
}

export class RedisNotificationStore implements NotificationStore {
  #c: RedisConnection;
  #stats: StatsCache;

  constructor(conn: RedisConnection, stats: StatsCache) {
    this.#c = conn;
    this.#stats = stats;
  }

  async enqueue(users: UserId[], payload: unknown): Promise<Notification[]> {
    this.#c.live();
    const ts = Date.now();
    let payloadJson: string | undefined;
    try {
      payloadJson = payload === undefined ? undefined : JSON.stringify(payload);
    } catch (err) {
      throw new StoreError('EINVAL', `notification payload cannot be serialised: ${(err as Error).message}`);
    }
    const tail = `,"ts":${ts}${payloadJson === undefined ? '' : `,"payload":${payloadJson}`}}`;
    const out: Notification[] = [];
    // Chunks run in order on one connection; ids still only grow within each user's queue.
    for (let i = 0; i < users.length; i += ENQUEUE_CHUNK) {
      const chunk = users.slice(i, i + ENQUEUE_CHUNK);
      const k = this.#c.keys;
      const keys = [k.notifNext, k.notifPending, ...chunk.map((u) => k.notifications(u))];
      const [first, pending] = (await this.#c.script(ENQUEUE, keys, [tail, ...chunk.map((u) => JSON.stringify(u))])) as [number, number];
      this.#stats.pendingIs(pending);
      chunk.forEach((user, j) => {
        out.push({ id: first + j, user, ts, payload: payloadJson === undefined ? undefined : JSON.parse(payloadJson) });
      });
    }
    return out;
  }

  async pending(user: UserId, opts: { afterId?: number; limit?: number } = {}): Promise<Notification[]> {
    this.#c.live();
    let limit = opts.limit === undefined || !Number.isFinite(opts.limit) ? DEFAULT_LIMIT : Math.floor(opts.limit);
    limit = Math.min(Math.max(limit, 1), MAX_LIMIT);
    const after = Number.isFinite(opts.afterId) ? `(${opts.afterId}` : '-inf';
    const found = (await this.#c.call('ZRANGE', this.#c.keys.notifications(user), after, '+inf', 'BYSCORE', 'LIMIT', 0, limit)) as string[];
    return found.map(toNotification);
  }

  async ack(user: UserId, ids: number[]): Promise<number> {
    this.#c.live();
    const mine = [...new Set(ids)].filter((id) => Number.isFinite(id));
    if (mine.length === 0) return 0;
    const [n, pending] = (await this.#c.script(ACK, [this.#c.keys.notifications(user), this.#c.keys.notifPending], mine)) as [number, number];
    this.#stats.pendingIs(pending);
    return n;
  }

  async clear(user: UserId): Promise<number> {
    this.#c.live();
    const [n, pending] = (await this.#c.script(CLEAR, [this.#c.keys.notifications(user), this.#c.keys.notifPending], [])) as [number, number];
    this.#stats.pendingIs(pending);
    return n;
  }

  // ---- transfer (flashhub migrate)

  /** The id the next notification gets. */
  async nextId(): Promise<number> {
    this.#c.live();
    return Number((await this.#c.call('GET', this.#c.keys.notifNext)) ?? 0) + 1;
  }

  /** Users with something pending, a page per SCAN step. */
  async *usersWithPending(): AsyncIterable<UserId[]> {
    const k = this.#c.keys;
    for await (const keys of scanKeys(this.#c, k.notificationQueuePattern)) yield keys.map((key) => k.userOfQueue(key));
  }

  /**
   * Stores notifications made elsewhere with their own ids and ts. One that is pending already
   * (same user and id) is 'EEXIST'; each script call of up to ENQUEUE_CHUNK is all or nothing.
   */
  async importNotifications(notifications: Notification[]): Promise<void> {
    this.#c.live();
    const seen = new Set<string>();
    const records = notifications.map((n) => {
      const key = `${n.user}:${n.id}`;
      if (!Number.isSafeInteger(n.id) || n.id < 1) throw new StoreError('EINVAL', `bad notification id ${n.id}`);
      if (seen.has(key)) throw new StoreError('EEXIST', `notification ${n.id} of user ${n.user} is given twice`);
      seen.add(key);
      try {
        return { n, json: JSON.stringify({ id: n.id, user: n.user, ts: n.ts, payload: n.payload }) };
      } catch (err) {
        throw new StoreError('EINVAL', `notification payload cannot be serialised: ${(err as Error).message}`);
      }
    });
    const k = this.#c.keys;
    for (let i = 0; i < records.length; i += ENQUEUE_CHUNK) {
      const chunk = records.slice(i, i + ENQUEUE_CHUNK);
      const keys = [k.notifNext, k.notifPending, ...chunk.map(({ n }) => k.notifications(n.user))];
      const [stored, pending] = (await this.#c.script(IMPORT_NOTIFICATIONS, keys, chunk.flatMap(({ n, json }) => [String(n.id), json]))) as [number, number];
      if (stored < 0) throw new StoreError('EEXIST', `notification ${pending} is pending already`);
      this.#stats.pendingIs(pending);
    }
  }

  /** Makes new notifications get ids from `next` on, unless they already would. */
  async raiseNextId(next: number): Promise<void> {
    this.#c.live();
    await this.#c.script(RAISE_COUNTER, [this.#c.keys.notifNext], [String(next - 1)]);
  }
}
