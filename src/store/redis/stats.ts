// stats() is synchronous, so the Redis store answers it from counters kept here:
//
//   messages             live messages in all rooms. A shared counter ({stats}:messages) that each
//                        node moves by the appends, deletes and trims it made, flushed with INCRBY
//                        on every refresh (not per append: that would add a command to the hot
//                        path). So it is a close estimate, not a count: a node that dies loses at
//                        most one interval of its own changes, and a flush whose reply is lost is
//                        counted again. messages.count(room) is exact.
//   pendingNotifications exact as of the last reply: the notification scripts keep a counter in
//                        the same slot and return it; other nodes' changes show after a refresh.
//   segments             always 0 (Redis has no segment files).
//   bytes                Redis's used_memory: the whole server, including other apps' keys when
//                        the Redis is shared (per-key accounting would cost a command per key).
//
// Refreshed at open and every `intervalMs` (2 s by default).

import type { StoreStats } from '../types.ts';
import type { RedisConnection } from './connection.ts';

export class StatsCache {
  #c: RedisConnection;
  #messages = 0;
  /** This node's message count changes not yet added to the shared counter... */
  #unflushed = 0;
  /** ...and those on their way there (refreshes may overlap: the timer's and close()'s). */
  #flushing = 0;
  #pending = 0;
  /** Bumped by every script reply, so a refresh sent earlier cannot overwrite a fresher total. */
  #pendingVersion = 0;
  #bytes = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(conn: RedisConnection) {
    this.#c = conn;
  }

  messagesChanged(n: number): void {
    this.#unflushed += n;
  }

  pendingIs(total: number): void {
    this.#pending = total;
    this.#pendingVersion++;
  }

  snapshot(): StoreStats {
    return { messages: Math.max(0, this.#messages + this.#flushing + this.#unflushed), pendingNotifications: this.#pending, segments: 0, bytes: this.#bytes };
  }

  start(intervalMs: number): void {
    this.#timer = setInterval(() => this.refresh().catch(() => {}), intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  /** Flushes this node's message delta and reads the shared totals, in one round trip. */
  async refresh(): Promise<void> {
    const k = this.#c.keys;
    const delta = this.#unflushed;
    const version = this.#pendingVersion;
    this.#unflushed = 0;
    this.#flushing += delta;
    let replies: [Error | null, unknown][] | null = null;
    try {
      replies = await this.#c.client.pipeline([['incrby', k.statsMessages, delta], ['get', k.notifPending], ['info', 'memory']]).exec();
    } finally {
      this.#flushing -= delta;
      if (!replies?.[0] || replies[0][0]) this.#unflushed += delta; // not counted: try again next time
    }
    const [[incrErr, messages] = [], [getErr, pending] = [], [, info] = []] = replies ?? [];
    if (incrErr || !replies) throw incrErr ?? new Error('stats refresh got no reply');
    // Replies on one connection come in order, so the newest INCRBY reply counts every earlier flush.
    this.#messages = Number(messages);
    if (getErr) throw getErr;
    if (version === this.#pendingVersion) this.#pending = Number(pending ?? 0);
    // INFO may be renamed away on managed Redis: then bytes stays 0.
    const used = /^used_memory:(\d+)/m.exec(String(info))?.[1];
    if (used !== undefined) this.#bytes = Number(used);
  }
}
