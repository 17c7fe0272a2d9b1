// NotificationStore as a log of pending-until-ack records in `notifications/` (storage.md §5.1).
//
// Records:
//   {"t":"n+","id","user","ts","payload"}   enqueued
//   {"t":"n-","user","ids":[...]}           acknowledged by that user (only that user's ids count)
//   {"t":"nc","user","upTo"}                 everything of that user with id <= upTo dropped
//   {"t":"nid","next"}                      ids below `next` are used (heads a snapshot, so ids
//                                           keep increasing even when nothing is pending)
//
// Once dead records outnumber the pending ones, a snapshot rolls the log at a point where every
// earlier record is durable and applied, re-appends the pending set at the head of the new
// segment and deletes the older segments. Replaying old segments plus the snapshot gives the same
// state, so a crash at any step is harmless.

import { StoreError, type Notification, type NotificationStore, type UserId } from '../types.ts';
import { noReport, type Reporter, type SyncMode } from './fsutil.ts';
import { SegmentLog } from './segment-log.ts';

export interface NotificationStoreOptions {
  dir: string;
  sync?: SyncMode;
  segmentBytes?: number;
  report?: Reporter;
  /** No snapshot before the log holds this many records. */
  snapshotMinRecords?: number;
  now?: () => number;
}

interface AddRecord {
  t: 'n+';
  id: number;
  user: UserId;
  ts: number;
  payload?: unknown;
}

const DEFAULT_LIMIT = 100;
const MAX_LIMIT = 1000;

/** One user's pending notifications: ids ascending (with lazily removed holes) and their JSON. */
class UserQueue {
  ids: number[] = [];
  items = new Map<number, string>();

  add(id: number, json: string): boolean {
    if (this.items.has(id)) return false;
    this.items.set(id, json);
    const last = this.ids[this.ids.length - 1];
    if (last === undefined || id > last) this.ids.push(id);
    else this.ids.splice(lowerBound(this.ids, id), 0, id); // only on odd replays
    return true;
  }

  remove(id: number): boolean {
    if (!this.items.delete(id)) return false;
    // Removed ids stay in `ids` as holes; rebuild once holes dominate.
    if (this.ids.length > 64 && this.ids.length > 2 * this.items.size) this.ids = [...this.items.keys()].sort((a, b) => a - b);
    return true;
  }

  /** Removes every id <= upTo; returns how many. */
  removeUpTo(upTo: number): number {
    let n = 0;
    for (const id of this.ids) {
      if (id > upTo) break;
      if (this.items.delete(id)) n++;
    }
    this.ids = this.ids.filter((id) => id > upTo);
    return n;
  }

  list(afterId: number, limit: number): string[] {
    const out: string[] = [];
    for (let i = lowerBound(this.ids, afterId + 1); i < this.ids.length && out.length < limit; i++) {
      const json = this.items.get(this.ids[i] as number);
      if (json !== undefined) out.push(json);
    }
    return out;
  }
}

/** First index whose value is >= x. */
function lowerBound(a: number[], x: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((a[mid] as number) < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function toNotification(json: string): Notification {
  const r = JSON.parse(json) as AddRecord;
  return { id: r.id, user: r.user, ts: r.ts, payload: r.payload };
}

export class FileNotificationStore implements NotificationStore {
  #log!: SegmentLog;
  #report: Reporter;
  #now: () => number;
  #minRecords: number;
  #users = new Map<UserId, UserQueue>();
  /** Next id to hand out (ids are taken at call time, like message seqs). */
  #nextId = 1;
  #pending = 0;
  /** Records in the log since the last snapshot (live and dead). */
  #records = 0;
  #snapshotting: Promise<void> | undefined;
  #closed = false;
  snapshots = 0;

  private constructor(o: NotificationStoreOptions) {
    this.#report = o.report ?? noReport;
    this.#now = o.now ?? Date.now;
    this.#minRecords = o.snapshotMinRecords ?? 10_000;
  }

  static async open(o: NotificationStoreOptions): Promise<FileNotificationStore> {
    const store = new FileNotificationStore(o);
    store.#log = await SegmentLog.open({
      dir: o.dir,
      name: 'notifications',
      segmentBytes: o.segmentBytes,
      sync: o.sync ?? 'fdatasync',
      report: store.#report,
      onRecord: (_seg, frame) => store.#replay(frame.value, frame.json),
    });
    store.#maybeSnapshot();
    return store;
  }

  #replay(v: unknown, json: string): void {
    if (typeof v !== 'object' || v === null) return;
    const r = v as { t?: unknown; id?: unknown; user?: unknown; ids?: unknown; upTo?: unknown; next?: unknown };
    this.#records++;
    if (r.t === 'n+' && typeof r.id === 'number' && typeof r.user === 'number') this.#applyAdd(r.user, r.id, json);
    else if (r.t === 'n-' && typeof r.user === 'number' && Array.isArray(r.ids)) this.#applyAck(r.user, r.ids as number[]);
    else if (r.t === 'nc' && typeof r.user === 'number' && typeof r.upTo === 'number') this.#applyClear(r.user, r.upTo);
    else if (r.t === 'nid' && typeof r.next === 'number') this.#nextId = Math.max(this.#nextId, r.next);
  }

  #applyAdd(user: UserId, id: number, json: string): void {
    let q = this.#users.get(user);
    if (!q) this.#users.set(user, (q = new UserQueue()));
    if (q.add(id, json)) this.#pending++;
    if (id >= this.#nextId) this.#nextId = id + 1;
  }

  #applyAck(user: UserId, ids: number[]): number {
    const q = this.#users.get(user);
    if (!q) return 0;
    let n = 0;
    for (const id of ids) if (q.remove(id)) n++;
    this.#pending -= n;
    if (q.items.size === 0) this.#users.delete(user);
    return n;
  }

  #applyClear(user: UserId, upTo: number): number {
    if (upTo >= this.#nextId) this.#nextId = upTo + 1;
    const q = this.#users.get(user);
    if (!q) return 0;
    const n = q.removeUpTo(upTo);
    this.#pending -= n;
    if (q.items.size === 0) this.#users.delete(user);
    return n;
  }

  #live(): void {
    if (this.#closed) throw new StoreError('ECLOSED', 'store is closed');
  }

  async enqueue(users: UserId[], payload: unknown): Promise<Notification[]> {
    this.#live();
    const ts = this.#now();
    // Serialise the payload once, before taking ids, so a bad payload takes none.
    let payloadJson: string | undefined;
    try {
      payloadJson = payload === undefined ? undefined : JSON.stringify(payload);
    } catch (err) {
      throw new StoreError('EINVAL', `notification payload cannot be serialised: ${(err as Error).message}`);
    }
    const writes = users.map((user) => {
      const id = this.#nextId++;
      const json = `{"t":"n+","id":${id},"user":${JSON.stringify(user)},"ts":${ts}${payloadJson === undefined ? '' : `,"payload":${payloadJson}`}}`;
      const n: Notification = { id, user, ts, payload: payloadJson === undefined ? undefined : JSON.parse(payloadJson) };
      return this.#log.append(json, () => {
        this.#records++;
        this.#applyAdd(user, id, json);
        return n;
      });
    });
    return Promise.all(writes);
  }

  async pending(user: UserId, opts: { afterId?: number; limit?: number } = {}): Promise<Notification[]> {
    this.#live();
    let limit = opts.limit === undefined || !Number.isFinite(opts.limit) ? DEFAULT_LIMIT : Math.floor(opts.limit);
    limit = Math.min(Math.max(limit, 1), MAX_LIMIT);
    const q = this.#users.get(user);
    if (!q) return [];
    return q.list(opts.afterId ?? 0, limit).map(toNotification);
  }

  async ack(user: UserId, ids: number[]): Promise<number> {
    this.#live();
    const q = this.#users.get(user);
    if (!q) return 0;
    // Only this user's pending ids are written; the count is taken when the record is durable,
    // so two racing acks of one id count it once.
    const mine = [...new Set(ids)].filter((id) => q.items.has(id));
    if (mine.length === 0) return 0;
    return this.#log.append(JSON.stringify({ t: 'n-', user, ids: mine }), () => {
      this.#records++;
      const n = this.#applyAck(user, mine);
      this.#maybeSnapshot();
      return n;
    });
  }

  async clear(user: UserId): Promise<number> {
    this.#live();
    if (!this.#users.has(user)) return 0;
    // upTo covers enqueues still in flight: they precede this record in the log.
    const upTo = this.#nextId - 1;
    return this.#log.append(JSON.stringify({ t: 'nc', user, upTo }), () => {
      this.#records++;
      const n = this.#applyClear(user, upTo);
      this.#maybeSnapshot();
      return n;
    });
  }

  // ---- transfer (flashhub migrate)

  /** The id the next notification gets. */
  get nextId(): number {
    return this.#nextId;
  }

  /** Users with something pending, ascending. */
  usersWithPending(): UserId[] {
    this.#live();
    return [...this.#users.keys()].sort((a, b) => a - b);
  }

  /**
   * Stores notifications made elsewhere with their own ids and ts, in one group commit. One that
   * is pending already (same user and id) is 'EEXIST', and then nothing is written.
   */
  async importNotifications(notifications: Notification[]): Promise<void> {
    this.#live();
    const seen = new Set<string>();
    const records = notifications.map((n) => {
      const key = `${n.user}:${n.id}`;
      if (!Number.isSafeInteger(n.id) || n.id < 1) throw new StoreError('EINVAL', `bad notification id ${n.id}`);
      if (seen.has(key) || this.#users.get(n.user)?.items.has(n.id)) throw new StoreError('EEXIST', `notification ${n.id} of user ${n.user} exists`);
      seen.add(key);
      try {
        return { n, json: JSON.stringify({ t: 'n+', id: n.id, user: n.user, ts: n.ts, payload: n.payload }) };
      } catch (err) {
        throw new StoreError('EINVAL', `notification payload cannot be serialised: ${(err as Error).message}`);
      }
    });
    // Taken now, like enqueue's ids, so an enqueue racing with the import cannot reuse one.
    for (const { n } of records) if (n.id >= this.#nextId) this.#nextId = n.id + 1;
    await Promise.all(
      records.map(({ n, json }) =>
        this.#log.append(json, () => {
          this.#records++;
          this.#applyAdd(n.user, n.id, json);
        }),
      ),
    );
  }

  /** Makes new notifications get ids from `next` on, durably (the record a snapshot starts with). */
  async raiseNextId(next: number): Promise<void> {
    this.#live();
    if (next <= this.#nextId) return;
    this.#nextId = next;
    await this.#log.append(JSON.stringify({ t: 'nid', next }), () => {
      this.#records++;
    });
  }

  // ---- snapshot compaction

  #maybeSnapshot(): void {
    if (this.#snapshotting || this.#closed) return;
    if (this.#records < this.#minRecords || this.#records - this.#pending <= this.#pending) return;
    this.#snapshotting = this.#snapshot()
      .catch((err: unknown) => {
        this.#report({ level: 'error', event: 'notifications_snapshot_failed', path: this.#log.dir, detail: { error: String(err) } });
      })
      .finally(() => (this.#snapshotting = undefined));
  }

  async #snapshot(): Promise<void> {
    const before = this.#log.stats();
    const recordsBefore = this.#records;
    // Called at the roll point: every earlier record is durable and applied, none later is.
    const newSeg = await this.#log.rollWith(() => {
      const recs = [JSON.stringify({ t: 'nid', next: this.#nextId })];
      for (const q of this.#users.values()) for (const json of q.items.values()) recs.push(json);
      this.#records = recs.length;
      return recs;
    });
    const old = this.#log.segments().filter((s) => s.id < newSeg).map((s) => s.id);
    await this.#log.removeSegments(old);
    this.snapshots++;
    const after = this.#log.stats();
    this.#report({
      level: 'info',
      event: 'notifications_snapshot',
      path: this.#log.dir,
      detail: { recordsBefore, pending: this.#pending, segmentsRemoved: old.length, bytesBefore: before.bytes, bytesAfter: after.bytes },
    });
  }

  // ---- lifecycle

  stats(): { pending: number; users: number; segments: number; bytes: number; records: number } {
    const s = this.#log.stats();
    return { pending: this.#pending, users: this.#users.size, segments: s.segments, bytes: s.bytes, records: this.#records };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    await this.#log.drain();
    this.#closed = true;
    await this.#snapshotting;
    await this.#log.close();
  }
}
