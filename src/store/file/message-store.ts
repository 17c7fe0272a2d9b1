// MessageStore over one segmented log in `messages/` (storage.md §5.2-§5.5).
//
// One global log rather than a file per room: one fdatasync per batch however many rooms it
// touches, and per-room order equals log order, so time retention is "delete the oldest files".
//
// Records:
//   {"t":"m","room","seq","ts","from","cid"?,"text"?,"data"?}   a message
//   {"t":"del","room","seq"}                                     tombstone
//   {"t":"trim","room","floor"}                                  seqs below floor are gone
//   {"t":"hw","room","seq"}                                      seq high-water: written when the
//       record that carried a room's newest seq is about to disappear (retention, compaction), so
//       seqs are never handed out twice
//
// The index and the hot cache change only in the log's onDurable callbacks, in log order, so a
// reader never sees a message that a crash could take back.

import fs from 'node:fs/promises';
import path from 'node:path';
import { StoreError, type MessageStore, type NewMessage, type PageOptions, type StoredMessage } from '../types.ts';
import { decodeFrame, type DecodedFrame } from './framing.ts';
import { noReport, type Reporter, type SyncMode } from './fsutil.ts';
import { RoomIndex, type Location } from './room-index.ts';
import { decodeIndex, SegmentIndexBuilder, T_DEL, T_HW, T_MSG, T_TRIM } from './seg-index.ts';
import { SegmentLog, sidecarPath, type PrefixIO, type SegmentInfo } from './segment-log.ts';

export interface MessageStoreOptions {
  dir: string;
  sync?: SyncMode;
  segmentBytes?: number;
  retention?: { maxAgeMs?: number };
  report?: Reporter;
  /** Clock for message timestamps and retention (tests). */
  now?: () => number;
  /** Sealed segments whose live bytes fall below this share are compacted. */
  compactBelow?: number;
  /** Upper bound on cached message JSON strings across all rooms. */
  hotTotal?: number;
  /**
   * The active segment's sidecar is rewritten each time it grows by this much, so a restart
   * parses at most this many bytes of JSON (default 4 MiB).
   */
  checkpointBytes?: number;
}

interface MsgRecord {
  t: 'm';
  room: string;
  seq: number;
  ts: number;
  from: number;
  cid?: string;
  text?: string;
  data?: unknown;
}
type Record_ =
  | MsgRecord
  | { t: 'del'; room: string; seq: number }
  | { t: 'trim'; room: string; floor: number }
  | { t: 'hw'; room: string; seq: number };

interface SegStat {
  /** bytes of live messages */
  live: number;
  /** bytes of control records (kept by compaction while needed) */
  ctrl: number;
  maxTs: number;
}

const DEFAULT_LIMIT = 50;
const MAX_LIMIT = 500;
/** Two records of one page closer than this are read with one positional read. */
const READ_GAP = 64 * 1024;

function toMessage(r: MsgRecord): StoredMessage {
  const m: StoredMessage = { room: r.room, seq: r.seq, ts: r.ts, from: r.from };
  if (r.text !== undefined) m.text = r.text;
  if (r.data !== undefined) m.data = r.data;
  if (r.cid !== undefined) m.cid = r.cid;
  return m;
}

function serialise(rec: MsgRecord): string {
  try {
    return JSON.stringify(rec);
  } catch (err) {
    throw new StoreError('EINVAL', `message cannot be serialised: ${(err as Error).message}`);
  }
}

function isRecord(v: unknown): v is Record_ {
  return typeof v === 'object' && v !== null && typeof (v as { t?: unknown }).t === 'string' && typeof (v as { room?: unknown }).room === 'string';
}

export class FileMessageStore implements MessageStore {
  #log!: SegmentLog;
  #dir: string;
  #report: Reporter;
  #now: () => number;
  #compactBelow: number;
  #maxAgeMs: number | undefined;
  #rooms = new Map<string, RoomIndex>();
  #segStats = new Map<number, SegStat>();
  /** Records of the active segment, for its sidecar index at seal. */
  #builder: SegmentIndexBuilder | undefined;
  /** Rooms in order of their latest append, for evicting hot caches. */
  #hotRooms = new Map<RoomIndex, true>();
  #hotCount = 0;
  #hotTotal: number;
  /** Background work runs one job at a time, and only once open() has finished. */
  #maintenance: Promise<void>;
  #openGate!: () => void;
  #compactQueued = new Set<number>();
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  #liveTotal = 0;
  #duplicates = 0;
  #checkpointBytes: number;
  /** Size of the active segment when its sidecar was last written. */
  #checkpointAt = 0;

  private constructor(o: MessageStoreOptions) {
    this.#dir = o.dir;
    this.#report = o.report ?? noReport;
    this.#now = o.now ?? Date.now;
    this.#compactBelow = o.compactBelow ?? 0.5;
    this.#maxAgeMs = o.retention?.maxAgeMs;
    this.#hotTotal = o.hotTotal ?? 64 * 1024;
    this.#checkpointBytes = o.checkpointBytes ?? 4 * 1024 * 1024;
    this.#maintenance = new Promise((resolve) => (this.#openGate = resolve));
  }

  static async open(o: MessageStoreOptions): Promise<FileMessageStore> {
    const store = new FileMessageStore(o);
    const scanned = new Map<number, SegmentIndexBuilder>();
    let rebuilt = 0;
    store.#log = await SegmentLog.open({
      dir: o.dir,
      name: 'messages',
      segmentBytes: o.segmentBytes,
      sync: o.sync ?? 'fdatasync',
      report: store.#report,
      sidecars: ['.idx'],
      loadPrefix: (seg, io) => store.#loadSidecar(seg, io, scanned),
      onRecord: (seg, frame, off, len) => {
        let b = scanned.get(seg.id);
        if (!b) scanned.set(seg.id, (b = new SegmentIndexBuilder(seg.id)));
        store.#replay(seg, frame, off, len, b);
      },
      onScanned: (seg, covered) => {
        const b = scanned.get(seg.id) ?? new SegmentIndexBuilder(seg.id);
        scanned.delete(seg.id);
        if (!seg.sealed) {
          store.#builder = b;
          store.#checkpointAt = covered;
          // Scanned a long tail: checkpoint now so the next start does not have to.
          if (seg.size - covered >= store.#checkpointBytes) {
            store.#checkpointAt = seg.size;
            store.#writeSidecar(seg, b);
          }
        } else if (covered < seg.size) {
          store.#writeSidecar(seg, b);
          rebuilt++;
        }
      },
      onSeal: (seg) => store.#sealed(seg),
      onFlushed: (seg) => store.#flushed(seg),
    });
    store.#builder ??= new SegmentIndexBuilder(store.#log.activeId);
    for (const room of store.#rooms.values()) room.nextSeq = room.lastSeq + 1;
    store.#openGate();
    if (rebuilt > 0) store.#report({ level: 'info', event: 'index_rebuilt', path: o.dir, detail: { segments: rebuilt } });
    if (store.#duplicates > 0) {
      store.#report({ level: 'warn', event: 'duplicate_records', path: o.dir, detail: { ignored: store.#duplicates } });
    }
    for (const seg of store.#log.segments()) if (seg.sealed) store.#considerCompaction(seg.id);
    if (store.#maxAgeMs !== undefined) {
      store.expire();
      const every = Math.min(Math.max(store.#maxAgeMs / 10, 1000), 60_000);
      store.#timer = setInterval(() => store.expire(), every);
      store.#timer.unref();
    }
    return store;
  }

  // ---- replay

  #stat(seg: number): SegStat {
    let s = this.#segStats.get(seg);
    if (!s) this.#segStats.set(seg, (s = { live: 0, ctrl: 0, maxTs: 0 }));
    return s;
  }

  #room(id: string): RoomIndex {
    let r = this.#rooms.get(id);
    if (!r) this.#rooms.set(id, (r = new RoomIndex(id)));
    return r;
  }

  #replay(seg: SegmentInfo, frame: DecodedFrame, off: number, len: number, b: SegmentIndexBuilder): void {
    const rec = frame.value;
    if (!isRecord(rec)) return;
    switch (rec.t) {
      case 'm':
        this.#applyMessage(rec.room, rec.seq, seg.id, off, len, rec.ts, rec.cid, frame.json, b);
        break;
      case 'del':
        this.#applyDelete(rec.room, rec.seq, seg.id, off, len, b);
        break;
      case 'trim':
        this.#applyTrim(rec.room, rec.floor, seg.id, off, len, b);
        break;
      case 'hw':
        this.#applyHighWater(rec.room, rec.seq, seg.id, off, len, b);
        break;
    }
  }

  /**
   * Restores the part of a segment its sidecar describes; returns the bytes covered (0 if the
   * sidecar is missing or does not fit this file). The sidecar of a sealed segment normally
   * covers all of it; the active segment's covers the prefix up to its last checkpoint.
   */
  async #loadSidecar(seg: SegmentInfo, io: PrefixIO, scanned: Map<number, SegmentIndexBuilder>): Promise<number> {
    const file = sidecarPath(this.#dir, seg.id, '.idx');
    let buf: Buffer;
    try {
      buf = await fs.readFile(file);
    } catch {
      return 0;
    }
    const idx = decodeIndex(buf);
    let why = typeof idx === 'string' ? idx : undefined;
    if (typeof idx !== 'string') {
      if (idx.segmentSize > seg.size) why = `covers ${idx.segmentSize} bytes, the segment has ${seg.size}`;
      // A mismatch means a stale sidecar or a damaged segment: the scan that follows tells which.
      else if ((await io.crcOf(idx.segmentSize)) !== idx.segmentCrc) why = 'segment crc does not match';
      else if (idx.count > 0) {
        const last = await io.read(idx.lastOffset, idx.lastLength).catch(() => undefined);
        if (!last || typeof decodeFrame(last) === 'string') why = 'last record does not match';
      }
      for (let i = 1; why === undefined && i < idx.records.length; i += 5) {
        if (idx.rooms[idx.records[i] as number] === undefined) why = 'bad room index';
      }
    }
    if (why !== undefined || typeof idx === 'string') {
      this.#report({ level: 'info', event: 'index_ignored', path: file, detail: { reason: why } });
      return 0;
    }
    // Anything not fully covered will be scanned further and needs a builder for its next sidecar.
    const b = !seg.sealed || idx.segmentSize < seg.size ? new SegmentIndexBuilder(seg.id) : undefined;
    if (b) {
      b.maxTs = idx.maxTs;
      scanned.set(seg.id, b);
    }
    const stat = this.#stat(seg.id);
    stat.maxTs = Math.max(stat.maxTs, idx.maxTs);
    const rooms = idx.rooms.map((id) => this.#room(id));
    const r = idx.records;
    // The hot loop of a restart: one iteration per stored message, no JSON, no map lookups.
    for (let k = 0; k < idx.count * 5; k += 5) {
      const type = r[k] as number;
      const room = rooms[r[k + 1] as number] as RoomIndex;
      const seq = r[k + 2] as number;
      const off = r[k + 3] as number;
      const len = r[k + 4] as number;
      if (type === T_MSG) this.#indexMessage(room, stat, seq, seg.id, off, len);
      else if (type === T_DEL) this.#applyDelete(room.id, seq, seg.id, off, len, undefined);
      else if (type === T_TRIM) this.#applyTrim(room.id, seq, seg.id, off, len, undefined);
      else if (type === T_HW) this.#applyHighWater(room.id, seq, seg.id, off, len, undefined);
      b?.add(type, room.id, seq, off, len);
    }
    for (const [ri, seq, cid] of idx.cids) {
      const room = idx.rooms[ri];
      if (room !== undefined) this.#room(room).rememberCid(cid, seq);
    }
    return idx.segmentSize;
  }

  // ---- applying durable records (replay and live writes share these)

  #applyMessage(
    roomId: string,
    seq: number,
    seg: number,
    off: number,
    len: number,
    ts: number,
    cid: string | undefined,
    json: string | undefined,
    b: SegmentIndexBuilder | undefined,
  ): void {
    const room = this.#room(roomId);
    const stat = this.#stat(seg);
    if (!this.#indexMessage(room, stat, seq, seg, off, len)) return;
    if (ts > stat.maxTs) stat.maxTs = ts;
    if (cid !== undefined) room.rememberCid(cid, seq);
    if (json !== undefined) this.#cache(room, seq, json);
    b?.add(T_MSG, roomId, seq, off, len, ts);
  }

  #indexMessage(room: RoomIndex, stat: SegStat, seq: number, seg: number, off: number, len: number): boolean {
    if (!room.push(seq, seg, off, len)) {
      this.#duplicates++;
      return false;
    }
    this.#liveTotal++;
    stat.live += len;
    if (seq >= room.lastSeq) {
      room.lastSeq = seq;
      room.lastSeg = seg;
    }
    return true;
  }

  #applyDelete(roomId: string, seq: number, seg: number, off: number, len: number, b: SegmentIndexBuilder | undefined): boolean {
    this.#stat(seg).ctrl += len;
    b?.add(T_DEL, roomId, seq, off, len);
    const room = this.#rooms.get(roomId);
    const loc = room?.markDeleted(seq);
    if (!loc) return false;
    this.#dropped(loc);
    return true;
  }

  #applyTrim(roomId: string, floor: number, seg: number, off: number, len: number, b: SegmentIndexBuilder | undefined): number {
    this.#stat(seg).ctrl += len;
    b?.add(T_TRIM, roomId, floor, off, len);
    const room = this.#room(roomId);
    const before = room.lastSeq;
    const n = room.raiseFloor(floor, (loc) => this.#dropped(loc));
    if (room.lastSeq !== before) room.lastSeg = seg;
    return n;
  }

  #applyHighWater(roomId: string, seq: number, seg: number, off: number, len: number, b: SegmentIndexBuilder | undefined): void {
    this.#stat(seg).ctrl += len;
    b?.add(T_HW, roomId, seq, off, len);
    const room = this.#room(roomId);
    if (seq >= room.lastSeq) {
      room.lastSeq = seq;
      room.lastSeg = seg;
    }
  }

  /** A live message stopped being live (delete, trim, retention): its bytes become garbage. */
  #dropped(loc: Location): void {
    this.#liveTotal--;
    const s = this.#segStats.get(loc.seg);
    if (s) s.live -= loc.len;
    if (!this.#closed) this.#considerCompaction(loc.seg);
  }

  #cache(room: RoomIndex, seq: number, json: string): void {
    this.#hotCount += room.cache(seq, json);
    this.#hotRooms.delete(room);
    this.#hotRooms.set(room, true);
    while (this.#hotCount > this.#hotTotal && this.#hotRooms.size > 1) {
      const oldest = this.#hotRooms.keys().next().value as RoomIndex;
      this.#hotRooms.delete(oldest);
      this.#hotCount -= oldest.evict();
    }
  }

  // ---- MessageStore

  #live(): void {
    if (this.#closed) throw new StoreError('ECLOSED', 'store is closed');
  }

  async append(roomId: string, msg: NewMessage): Promise<StoredMessage> {
    this.#live();
    const room = this.#room(roomId);
    const cid = msg.cid;
    if (cid !== undefined) {
      const inflight = room.pendingCids.get(cid);
      if (inflight) return { ...((await inflight) as StoredMessage) };
      const seq = room.cids.get(cid);
      if (seq !== undefined) {
        const original = await this.get(roomId, seq);
        if (original) return original;
      }
    }
    const rec: MsgRecord = { t: 'm', room: roomId, seq: room.nextSeq, ts: this.#now(), from: msg.from };
    if (cid !== undefined) rec.cid = cid;
    if (msg.text !== undefined) rec.text = msg.text;
    if (msg.data !== undefined) rec.data = msg.data;
    let json: string;
    try {
      json = JSON.stringify(rec);
    } catch (err) {
      throw new StoreError('EINVAL', `message cannot be serialised: ${(err as Error).message}`);
    }
    // The seq is taken now, synchronously, so concurrent appends to a room get seqs in call order.
    room.nextSeq++;
    const stored = toMessage(rec);
    const durable = this.#log.append(json, (seg, off, len) => {
      this.#applyMessage(roomId, rec.seq, seg, off, len, rec.ts, cid, json, this.#builderFor(seg));
      return stored;
    });
    if (cid !== undefined) {
      room.pendingCids.set(cid, durable);
      const done = (): void => {
        if (room.pendingCids.get(cid) === durable) room.pendingCids.delete(cid);
      };
      durable.then(done, done);
    }
    return { ...(await durable) };
  }

  #builderFor(seg: number): SegmentIndexBuilder | undefined {
    if (this.#builder?.segment !== seg) this.#builder = new SegmentIndexBuilder(seg);
    return this.#builder;
  }

  async get(roomId: string, seq: number): Promise<StoredMessage | undefined> {
    this.#live();
    const room = this.#rooms.get(roomId);
    const loc = room?.locate(seq);
    if (!room || !loc) return undefined;
    const [m] = await this.#fetch(room, [seq], [loc]);
    return m;
  }

  async page(roomId: string, opts: PageOptions = {}): Promise<StoredMessage[]> {
    this.#live();
    const room = this.#rooms.get(roomId);
    if (!room) return [];
    let limit = opts.limit === undefined || !Number.isFinite(opts.limit) ? DEFAULT_LIMIT : Math.floor(opts.limit);
    limit = Math.min(Math.max(limit, 1), MAX_LIMIT);
    const seqs: number[] = [];
    const locs: Location[] = [];
    const take = (seq: number, loc: Location): boolean => {
      seqs.push(seq);
      locs.push(loc);
      return seqs.length < limit;
    };
    if (opts.afterSeq !== undefined) {
      const to = opts.beforeSeq !== undefined ? opts.beforeSeq - 1 : Number.MAX_SAFE_INTEGER;
      room.forEachUp(Math.floor(opts.afterSeq) + 1, to, take);
    } else {
      const from = opts.beforeSeq !== undefined ? Math.ceil(opts.beforeSeq) - 1 : Number.MAX_SAFE_INTEGER;
      room.forEachDown(from, take);
      seqs.reverse();
      locs.reverse();
    }
    return this.#fetch(room, seqs, locs);
  }

  /**
   * Messages for (seq, location) pairs: from the hot cache, else from disk. All reads are issued
   * in the same tick as the index lookup (see SegmentLog.read); nearby records share one read.
   */
  async #fetch(room: RoomIndex, seqs: number[], locs: Location[]): Promise<StoredMessage[]> {
    const out: (StoredMessage | undefined)[] = new Array(seqs.length);
    const reads: Promise<void>[] = [];
    let i = 0;
    while (i < seqs.length) {
      const hot = room.cached(seqs[i] as number);
      if (hot !== undefined) {
        out[i] = toMessage(JSON.parse(hot) as MsgRecord);
        i++;
        continue;
      }
      // Group following cold records of the same segment that lie close together.
      const first = locs[i] as Location;
      let j = i + 1;
      let end = first.off + first.len;
      while (j < seqs.length && room.cached(seqs[j] as number) === undefined) {
        const l = locs[j] as Location;
        if (l.seg !== first.seg || l.off < end || l.off - end > READ_GAP) break;
        end = l.off + l.len;
        j++;
      }
      const from = i;
      const to = j;
      reads.push(
        this.#log.readRange(first.seg, first.off, end - first.off).then((buf) => {
          for (let k = from; k < to; k++) {
            const l = locs[k] as Location;
            const f = decodeFrame(buf.subarray(l.off - first.off, l.off - first.off + l.len));
            if (typeof f === 'string') {
              throw new StoreError('ECORRUPT', `${this.#log.dir}: bad record in segment ${l.seg} at offset ${l.off} (${f})`);
            }
            out[k] = toMessage(f.value as MsgRecord);
          }
        }),
      );
      i = j;
    }
    await Promise.all(reads);
    return out as StoredMessage[];
  }

  async latestSeq(roomId: string): Promise<number> {
    this.#live();
    return this.#rooms.get(roomId)?.lastSeq ?? 0;
  }

  async count(roomId: string): Promise<number> {
    this.#live();
    return this.#rooms.get(roomId)?.live ?? 0;
  }

  async delete(roomId: string, seq: number): Promise<boolean> {
    this.#live();
    const room = this.#rooms.get(roomId);
    if (!room?.isLive(seq)) return false;
    return this.#log.append(JSON.stringify({ t: 'del', room: roomId, seq }), (seg, off, len) =>
      this.#applyDelete(roomId, seq, seg, off, len, this.#builderFor(seg)),
    );
  }

  async trim(roomId: string, keepLast: number): Promise<number> {
    this.#live();
    if (!Number.isInteger(keepLast) || keepLast < 0) throw new StoreError('EINVAL', `keepLast must be a non-negative integer, got ${keepLast}`);
    const room = this.#rooms.get(roomId);
    if (!room || room.live <= keepLast) return 0;
    const floor = room.floorAfterDropping(room.live - keepLast);
    return this.#log.append(JSON.stringify({ t: 'trim', room: roomId, floor }), (seg, off, len) =>
      this.#applyTrim(roomId, floor, seg, off, len, this.#builderFor(seg)),
    );
  }

  // ---- transfer (flashhub migrate)

  /** Every room that has handed out a seq (internal rooms too): its last seq and live messages. */
  histories(): { room: string; lastSeq: number; messages: number }[] {
    this.#live();
    const out: { room: string; lastSeq: number; messages: number }[] = [];
    for (const r of this.#rooms.values()) if (r.lastSeq > 0 || r.live > 0) out.push({ room: r.id, lastSeq: r.lastSeq, messages: r.live });
    return out.sort((a, b) => (a.room < b.room ? -1 : a.room > b.room ? 1 : 0));
  }

  /**
   * Stores messages made elsewhere with their own seq, ts and cid, in one group commit. Seqs must
   * ascend and lie above every seq the room has handed out ('EINVAL', nothing written, otherwise):
   * the index relies on a room's seqs growing along the log.
   */
  async importMessages(roomId: string, msgs: StoredMessage[]): Promise<void> {
    this.#live();
    const room = this.#room(roomId);
    let next = room.nextSeq;
    const records = msgs.map((m) => {
      if (!Number.isSafeInteger(m.seq) || m.seq < next) throw new StoreError('EINVAL', `room ${roomId}: seq ${m.seq} is not above ${next - 1}`);
      next = m.seq + 1;
      const rec: MsgRecord = { t: 'm', room: roomId, seq: m.seq, ts: m.ts, from: m.from };
      if (m.cid !== undefined) rec.cid = m.cid;
      if (m.text !== undefined) rec.text = m.text;
      if (m.data !== undefined) rec.data = m.data;
      return { rec, json: serialise(rec) };
    });
    // Taken now, like append's seqs, so an append racing with the import cannot reuse one.
    room.nextSeq = next;
    await Promise.all(
      records.map(({ rec, json }) =>
        this.#log.append(json, (seg, off, len) => this.#applyMessage(roomId, rec.seq, seg, off, len, rec.ts, rec.cid, json, this.#builderFor(seg))),
      ),
    );
  }

  /**
   * Makes the room hand out seqs above lastSeq from now on: a high-water record, the same one
   * retention writes, so it holds across restarts even though no message carries that seq.
   */
  async raiseSeq(roomId: string, lastSeq: number): Promise<void> {
    this.#live();
    const room = this.#room(roomId);
    if (lastSeq < room.nextSeq) return;
    room.nextSeq = lastSeq + 1;
    await this.#log.append(JSON.stringify({ t: 'hw', room: roomId, seq: lastSeq }), (seg, off, len) =>
      this.#applyHighWater(roomId, lastSeq, seg, off, len, this.#builderFor(seg)),
    );
  }

  // ---- sealing, sidecars

  /** After each durable run: checkpoint the active segment's sidecar every checkpointBytes. */
  #flushed(seg: SegmentInfo): void {
    if (seg.sealed || seg.size - this.#checkpointAt < this.#checkpointBytes) return;
    if (this.#builder?.segment !== seg.id) return;
    this.#checkpointAt = seg.size;
    this.#writeSidecar(seg, this.#builder);
  }

  #sealed(seg: SegmentInfo): void {
    const b = this.#builder?.segment === seg.id ? this.#builder : new SegmentIndexBuilder(seg.id);
    this.#builder = new SegmentIndexBuilder(this.#log.activeId);
    this.#checkpointAt = 0;
    this.#writeSidecar(seg, b);
    this.#considerCompaction(seg.id);
    if (this.#maxAgeMs !== undefined) this.expire();
  }

  /**
   * Encodes now (the builder, size, CRC and cid windows agree at this moment) and writes in the
   * background. For the active segment this is a checkpoint covering its first seg.size bytes.
   */
  #writeSidecar(seg: SegmentInfo, b: SegmentIndexBuilder): void {
    const cids: [string, number, string][] = [];
    for (const room of this.#rooms.values()) {
      for (const [cid, seq] of room.cids) if (room.raw(seq)?.seg === seg.id) cids.push([room.id, seq, cid]);
    }
    const size = seg.size;
    const buf = b.encode(size, seg.crc, cids);
    const file = sidecarPath(this.#dir, seg.id, '.idx');
    this.#maintain(async () => {
      const now = this.#log.segment(seg.id);
      if (!now || (now.sealed && now.size !== size)) return; // removed, compacted or sealed meanwhile
      const tmp = `${file}.tmp`;
      await fs.writeFile(tmp, buf, { mode: 0o600 });
      await fs.rename(tmp, file);
    });
  }

  /** Serialises background work (sidecars, compaction, retention); errors are reported, not thrown. */
  #maintain(job: () => Promise<void>): void {
    this.#maintenance = this.#maintenance.then(job).catch((err: unknown) => {
      this.#report({ level: 'error', event: 'maintenance_failed', path: this.#dir, detail: { error: String(err) } });
    });
  }

  /** Resolves when queued background work is done (tests, bench). */
  async idle(): Promise<void> {
    // Jobs may queue more jobs (compaction queues a sidecar write): wait until the chain is still.
    for (let m = this.#maintenance; ; m = this.#maintenance) {
      await m;
      if (m === this.#maintenance) return;
    }
  }

  // ---- compaction

  #considerCompaction(segId: number): void {
    const seg = this.#log?.segment(segId);
    if (!seg || !seg.sealed || this.#compactQueued.has(segId)) return;
    const s = this.#segStats.get(segId);
    if (!s || seg.size === 0 || s.live + s.ctrl >= this.#compactBelow * seg.size) return;
    this.#compactQueued.add(segId);
    this.#maintain(async () => {
      this.#compactQueued.delete(segId);
      if (!this.#closed) await this.#compact(segId);
    });
  }

  /** Rewrites a sealed segment with only the records still needed (storage.md §5.5). */
  async #compact(segId: number): Promise<void> {
    const seg = this.#log.segment(segId);
    if (!seg?.sealed) return;
    const out: string[] = [];
    const outMeta: { type: number; room: string; seq: number; oldOff: number; ts: number }[] = [];
    const gone: { room: RoomIndex; seq: number; off: number }[] = [];
    const keep = (json: string, type: number, room: string, seq: number, oldOff: number, ts = 0): void => {
      out.push(json);
      outMeta.push({ type, room, seq, oldOff, ts });
    };
    await this.#log.scanSegment(segId, (f, off) => {
      const rec = f.value;
      if (!isRecord(rec)) return;
      const room = this.#rooms.get(rec.room);
      if (rec.t === 'm') {
        const e = room?.raw(rec.seq);
        const here = e !== undefined && e.seg === segId && e.off === off;
        if (here && !e.deleted && room?.isLive(rec.seq)) {
          keep(f.json, T_MSG, rec.room, rec.seq, off, rec.ts);
          return;
        }
        if (here && room) gone.push({ room, seq: rec.seq, off });
        // The room's newest seq must survive its message, or the seq could be handed out again.
        if (room && room.lastSeq === rec.seq && room.lastSeg === segId) {
          keep(JSON.stringify({ t: 'hw', room: rec.room, seq: rec.seq }), T_HW, rec.room, rec.seq, -1);
        }
      } else if (rec.t === 'del') {
        // Needed while the deleted message's record still exists in another segment.
        const e = room?.raw(rec.seq);
        if (e && e.seg !== 0 && e.seg !== segId) keep(f.json, T_DEL, rec.room, rec.seq, off);
      } else if (rec.t === 'trim') {
        if (room && room.floor === rec.floor) keep(f.json, T_TRIM, rec.room, rec.floor, off);
      } else if (rec.t === 'hw') {
        if (room && room.lastSeq === rec.seq) keep(f.json, T_HW, rec.room, rec.seq, off);
      }
    });
    const before = seg.size;
    let committed: { offsets: number[]; lengths: number[] } | undefined;
    await this.#log.replaceSegment(segId, out, (offsets, lengths) => {
      committed = { offsets, lengths };
      const stat = this.#stat(segId);
      stat.live = 0;
      stat.ctrl = 0;
      for (const g of gone) g.room.forget(g.seq, segId, g.off);
      outMeta.forEach((m, i) => {
        const room = this.#rooms.get(m.room);
        const len = lengths[i] as number;
        if (m.type === T_MSG && room?.relocate(m.seq, segId, m.oldOff, offsets[i] as number)) {
          if (room.isLive(m.seq)) stat.live += len;
        } else if (m.type !== T_MSG) {
          stat.ctrl += len;
        }
      });
      if (out.length === 0) this.#segStats.delete(segId);
    });
    const after = this.#log.segment(segId);
    this.#report({
      level: 'info',
      event: 'segment_compacted',
      path: path.join(this.#log.dir, path.basename(seg.path)),
      detail: { bytesBefore: before, bytesAfter: after?.size ?? 0, recordsKept: out.length },
    });
    if (after && committed) {
      const b = new SegmentIndexBuilder(segId);
      outMeta.forEach((m, i) => b.add(m.type, m.room, m.seq, committed!.offsets[i] as number, committed!.lengths[i] as number, m.ts));
      b.maxTs = Math.max(b.maxTs, this.#segStats.get(segId)?.maxTs ?? 0);
      this.#writeSidecar(after, b);
    }
  }

  // ---- retention

  /**
   * Drops the oldest sealed segments whose newest message is older than maxAgeMs. Rooms whose
   * newest seq lived there get a high-water record first, so their seqs keep counting up.
   */
  expire(maxAgeMs = this.#maxAgeMs): void {
    if (maxAgeMs === undefined || this.#closed) return;
    this.#maintain(async () => {
      if (this.#closed) return;
      const cutoff = this.#now() - maxAgeMs;
      const drop = new Set<number>();
      for (const seg of this.#log.segments()) {
        if (!seg.sealed || (this.#segStats.get(seg.id)?.maxTs ?? 0) >= cutoff) break;
        drop.add(seg.id);
      }
      if (drop.size === 0) return;
      const keepSeqs: Promise<void>[] = [];
      for (const room of this.#rooms.values()) {
        if (room.lastSeq > 0 && drop.has(room.lastSeg)) {
          const seq = room.lastSeq;
          keepSeqs.push(
            this.#log.append(JSON.stringify({ t: 'hw', room: room.id, seq }), (seg, off, len) =>
              this.#applyHighWater(room.id, seq, seg, off, len, this.#builderFor(seg)),
            ),
          );
        }
      }
      await Promise.all(keepSeqs);
      let messages = 0;
      for (const room of this.#rooms.values()) {
        messages += room.dropWhile((_seq, seg) => seg === 0 || drop.has(seg), (loc) => {
          this.#liveTotal--;
          const s = this.#segStats.get(loc.seg);
          if (s) s.live -= loc.len;
        });
      }
      const segs = this.#log.segments().filter((s) => drop.has(s.id));
      for (const id of drop) this.#segStats.delete(id);
      await this.#log.removeSegments([...drop]);
      this.#report({
        level: 'info',
        event: 'segments_expired',
        path: this.#log.dir,
        detail: { segments: drop.size, bytes: segs.reduce((a, s) => a + s.size, 0), messages, maxAgeMs },
      });
    });
  }

  // ---- lifecycle

  stats(): { messages: number; rooms: number; segments: number; bytes: number; syncs: number } {
    const s = this.#log.stats();
    return { messages: this.#liveTotal, rooms: this.#rooms.size, segments: s.segments, bytes: s.bytes, syncs: this.#log.syncs };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    if (this.#timer) clearInterval(this.#timer);
    await this.#log.drain();
    this.#closed = true;
    // A final checkpoint lets a clean restart skip parsing the active segment entirely.
    const active = this.#log.segment(this.#log.activeId);
    if (active && this.#builder?.segment === active.id && active.size > this.#checkpointAt) {
      this.#checkpointAt = active.size;
      this.#writeSidecar(active, this.#builder);
    }
    await this.idle();
    await this.#log.close();
  }
}
