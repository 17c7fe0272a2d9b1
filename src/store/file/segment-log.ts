// A segmented append-only log of framed JSON records (storage.md §5.3-§5.5).
//
// Write path: append() frames the record and queues it. A self-clocking flush loop takes
// everything queued, writes it with one positional write and one fdatasync, then runs each
// record's onDurable callback in log order and resolves its promise. While a flush runs, new
// records queue up for the next one, so the batch size follows the number of concurrent writers
// with no fixed delay. A failed write or sync poisons the log: after a failed fsync the kernel
// may have dropped the dirty pages, so retrying could acknowledge data that is not on disk.
//
// Files: seg-0000000001.jsonl, ... Only the newest segment is written; the others are sealed
// (fsynced at roll) and change only through an atomic whole-file replace (compaction) or removal.
// So only the newest segment can have a torn tail, and a bad frame anywhere else is corruption.
//
// Reads are positional only (a FileHandle's implicit position moves with every readFile: the
// prototype lost records that way, storage.md §4.3 bug 2). read() picks the segment's handle
// synchronously, so an (offset, length) taken from an index in the same tick always matches the
// file it is read from, even if compaction swaps the file right after.

import fs from 'node:fs/promises';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import { StoreError } from '../types.ts';
import { decodeFrame, encodeFrame, scanFrames, type DecodedFrame, type ScanStop } from './framing.ts';
import {
  ensureDir,
  errnoCode,
  readExactly,
  removeTmpFiles,
  syncData,
  syncDir,
  syncFull,
  writeFully,
  type Reporter,
  type SyncMode,
} from './fsutil.ts';

export const DEFAULT_SEGMENT_BYTES = 64 * 1024 * 1024;
/** Offsets are kept in Uint32 indexes; leave room for one oversized record past the limit. */
const MAX_SEGMENT_BYTES = 1024 * 1024 * 1024;
const SCAN_CHUNK = 8 * 1024 * 1024;

export interface SegmentInfo {
  readonly id: number;
  readonly path: string;
  readonly size: number;
  readonly sealed: boolean;
  /** crc32 of the whole file, kept up to date on every write (sidecars record it). */
  readonly crc: number;
}

export interface LogOptions {
  dir: string;
  /** What the log holds, for messages ("messages", "notifications"). */
  name: string;
  segmentBytes?: number;
  sync: SyncMode;
  report: Reporter;
  /** Files next to a segment that belong to it (e.g. '.idx'); removed with it and before a replace. */
  sidecars?: string[];
  /**
   * Before a segment is scanned at open, the owner may restore a prefix of it another way (a
   * sidecar index) and return how many bytes that covered; only the rest is then scanned.
   * `crcOf(n)` gives the CRC of the first n bytes, to check that the sidecar fits this file.
   */
  loadPrefix?: (seg: SegmentInfo, io: PrefixIO) => Promise<number>;
  /** Each good record found while scanning at open, in log order. */
  onRecord: (seg: SegmentInfo, frame: DecodedFrame, offset: number, length: number) => void;
  /** A segment was recovered at open (`covered` bytes from the owner's sidecar, the rest scanned). */
  onScanned?: (seg: SegmentInfo, covered: number) => void;
  /** A run of records was written, synced and applied; seg.size and seg.crc match what was applied. */
  onFlushed?: (seg: SegmentInfo) => void;
  /** A segment was sealed at roll, after the onDurable callbacks of all its records. */
  onSeal?: (seg: SegmentInfo) => void;
}

export interface PrefixIO {
  crcOf(length: number): Promise<number>;
  read(offset: number, length: number): Promise<Buffer>;
}

export type OnDurable<R> = (segment: number, offset: number, length: number) => R;

interface RecordEntry {
  kind: 'rec';
  buf: Buffer;
  onDurable: OnDurable<unknown> | undefined;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
  settled: boolean;
}

interface RollEntry {
  kind: 'roll';
  /** Called at the roll point, when every earlier record is durable and applied; its records open the new segment. */
  snapshot: () => string[];
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
  settled: boolean;
}

type Entry = RecordEntry | RollEntry;

class Segment implements SegmentInfo {
  readonly id: number;
  readonly path: string;
  fh: fs.FileHandle;
  size: number;
  sealed: boolean;
  crc = 0;
  readers = 0;
  retired = false;

  constructor(id: number, file: string, fh: fs.FileHandle, size: number, sealed: boolean) {
    this.id = id;
    this.path = file;
    this.fh = fh;
    this.size = size;
    this.sealed = sealed;
  }

  /** Closes the handle once no read is using it (reads pin the handle they started with). */
  retire(): void {
    this.retired = true;
    if (this.readers === 0) void this.fh.close().catch(() => {});
  }
}

export function segmentFileName(id: number): string {
  return `seg-${String(id).padStart(10, '0')}.jsonl`;
}

export function sidecarPath(dir: string, id: number, suffix: string): string {
  return path.join(dir, `seg-${String(id).padStart(10, '0')}${suffix}`);
}

const SEGMENT_RE = /^seg-(\d{10})\.jsonl$/;

export class SegmentLog {
  readonly dir: string;
  readonly name: string;
  #segmentBytes: number;
  #sync: SyncMode;
  #report: Reporter;
  #sidecars: string[];
  #onSeal: ((seg: SegmentInfo) => void) | undefined;
  #onFlushed: ((seg: SegmentInfo) => void) | undefined;
  #segments = new Map<number, Segment>();
  #active!: Segment;
  #queue: Entry[] = [];
  #flushing = false;
  #scheduled = false;
  #idle: (() => void)[] = [];
  #poison: StoreError | undefined;
  #closed = false;
  /** Durable syncs issued; the bench reads it to show batching. */
  syncs = 0;

  private constructor(o: LogOptions) {
    this.dir = o.dir;
    this.name = o.name;
    this.#segmentBytes = Math.min(Math.max(o.segmentBytes ?? DEFAULT_SEGMENT_BYTES, 1024), MAX_SEGMENT_BYTES);
    this.#sync = o.sync;
    this.#report = o.report;
    this.#sidecars = o.sidecars ?? [];
    this.#onSeal = o.onSeal;
    this.#onFlushed = o.onFlushed;
  }

  /** Opens (or creates) the log, replaying every record through o.onRecord and repairing a torn tail. */
  static async open(o: LogOptions): Promise<SegmentLog> {
    const log = new SegmentLog(o);
    await ensureDir(o.dir, o.sync);
    try {
      await log.#recover(o);
    } catch (err) {
      await log.#closeHandles();
      throw err;
    }
    return log;
  }

  async #recover(o: LogOptions): Promise<void> {
    await removeTmpFiles(this.dir, this.#report);
    const ids = (await fs.readdir(this.dir))
      .map((n) => SEGMENT_RE.exec(n)?.[1])
      .filter((m): m is string => m !== undefined)
      .map(Number)
      .sort((a, b) => a - b);
    await this.#removeOrphanSidecars(new Set(ids));
    if (ids.length === 0) {
      this.#active = await this.#create(1);
      return;
    }
    const newest = ids[ids.length - 1] as number;
    for (const id of ids) {
      const file = path.join(this.dir, segmentFileName(id));
      const sealed = id !== newest;
      const fh = await fs.open(file, sealed ? 'r' : 'r+');
      const seg = new Segment(id, file, fh, (await fh.stat()).size, sealed);
      this.#segments.set(id, seg);
      let covered = 0;
      let prefixCrc = 0;
      if (o.loadPrefix) {
        let crcLen = -1;
        const io: PrefixIO = {
          crcOf: async (len) => {
            prefixCrc = await this.#crcOf(seg, Math.min(len, seg.size));
            crcLen = len;
            return prefixCrc;
          },
          read: (off, len) => readExactly(fh, off, len, file),
        };
        covered = Math.min(await o.loadPrefix(seg, io), seg.size);
        if (covered > 0 && crcLen !== covered) prefixCrc = await this.#crcOf(seg, covered);
        if (covered === 0) prefixCrc = 0;
      }
      let records = 0;
      const stop = await this.#scan(seg, covered, prefixCrc, (f, off, len) => {
        records++;
        o.onRecord(seg, f, off, len);
      });
      if (stop.error !== undefined) {
        if (sealed) {
          throw new StoreError(
            'ECORRUPT',
            `${file}: bad record at offset ${stop.end} (${stop.error}) in a sealed segment; refusing to start (restore it from a backup or move it away)`,
          );
        }
        await this.#truncateTail(seg, stop, records);
      }
      o.onScanned?.(seg, covered);
    }
    this.#active = this.#segments.get(newest) as Segment;
  }

  /** The newest segment ends at its last good frame: what follows was never acknowledged. */
  async #truncateTail(seg: Segment, stop: ScanStop, records: number): Promise<void> {
    const dropped = seg.size - stop.end;
    await seg.fh.truncate(stop.end);
    await syncFull(seg.fh, this.#sync);
    seg.size = stop.end;
    this.#report({
      level: 'warn',
      event: 'tail_truncated',
      path: seg.path,
      detail: { log: this.name, reason: stop.error, offset: stop.end, bytesDropped: dropped, recordsRecovered: records },
    });
  }

  async #removeOrphanSidecars(ids: Set<number>): Promise<void> {
    if (this.#sidecars.length === 0) return;
    for (const name of await fs.readdir(this.dir)) {
      for (const suffix of this.#sidecars) {
        const m = /^seg-(\d{10})/.exec(name);
        if (m && name === `seg-${m[1]}${suffix}` && !ids.has(Number(m[1]))) {
          await fs.rm(path.join(this.dir, name), { force: true });
        }
      }
    }
  }

  /**
   * Reads a segment in chunks and decodes its frames; stops at the first bad one. Also sets
   * seg.crc to the CRC of the good prefix (the whole file when nothing is wrong).
   */
  async #scan(seg: Segment, from: number, crcFrom: number, onFrame: (f: DecodedFrame, offset: number, length: number) => void): Promise<ScanStop> {
    let chunkSize = Math.min(SCAN_CHUNK, Math.max(seg.size - from, 1));
    let pos = from;
    let crc = crcFrom;
    try {
      while (pos < seg.size) {
        const want = Math.min(chunkSize, seg.size - pos);
        const buf = await readExactly(seg.fh, pos, want, seg.path);
        const final = pos + want >= seg.size;
        const base = pos;
        const stop = scanFrames(buf, 0, final, (f, off, len) => onFrame(f, base + off, len));
        crc = crc32(buf.subarray(0, stop.end), crc);
        if (stop.error !== undefined) return { end: pos + stop.end, error: stop.error };
        if (stop.end === 0) {
          chunkSize *= 2; // one record larger than the chunk
          continue;
        }
        pos += stop.end;
      }
      return { end: pos };
    } finally {
      seg.crc = crc;
    }
  }

  /** CRC of the first `length` bytes of a segment; the next chunk is read while one is summed. */
  async #crcOf(seg: Segment, length: number): Promise<number> {
    const chunk = SCAN_CHUNK / 2;
    const readAt = (pos: number): Promise<Buffer> | undefined =>
      pos < length ? readExactly(seg.fh, pos, Math.min(chunk, length - pos), seg.path) : undefined;
    let crc = 0;
    let next = readAt(0);
    for (let pos = 0; next; pos += chunk) {
      const buf = await next;
      next = readAt(pos + chunk);
      crc = crc32(buf, crc);
    }
    return crc;
  }

  async #create(id: number): Promise<Segment> {
    const file = path.join(this.dir, segmentFileName(id));
    const fh = await fs.open(file, 'wx+', 0o600);
    const seg = new Segment(id, file, fh, 0, false);
    this.#segments.set(id, seg);
    await syncDir(this.dir, this.#sync);
    return seg;
  }

  // ---- writing

  /**
   * Queues a record; resolves with onDurable's result once it is on disk. onDurable runs in log
   * order right after the sync, before any later record's callback.
   */
  append<R>(json: string, onDurable?: OnDurable<R>): Promise<R> {
    const blocked = this.#blocked();
    if (blocked) return Promise.reject(blocked);
    const buf = encodeFrame(json);
    return new Promise<R>((resolve, reject) => {
      this.#queue.push({ kind: 'rec', buf, onDurable, resolve: resolve as (v: unknown) => void, reject, settled: false });
      this.#schedule();
    });
  }

  /**
   * Seals the active segment at this point of the queue (if it holds anything) and writes the
   * records returned by `snapshot`, called right then, at the head of the new segment. Resolves
   * with the new segment's id once those records are durable; all older segments can then go.
   */
  rollWith(snapshot: () => string[]): Promise<number> {
    const blocked = this.#blocked();
    if (blocked) return Promise.reject(blocked);
    return new Promise<number>((resolve, reject) => {
      this.#queue.push({ kind: 'roll', snapshot, resolve: resolve as (v: unknown) => void, reject, settled: false });
      this.#schedule();
    });
  }

  #blocked(): StoreError | undefined {
    if (this.#closed) return new StoreError('ECLOSED', 'store is closed');
    return this.#poison;
  }

  #schedule(): void {
    if (this.#flushing || this.#scheduled) return;
    this.#scheduled = true;
    // setImmediate rather than a microtask: it lets every writer woken in this turn join the batch.
    setImmediate(() => {
      this.#scheduled = false;
      void this.#flushLoop();
    });
  }

  async #flushLoop(): Promise<void> {
    if (this.#flushing) return;
    this.#flushing = true;
    while (this.#queue.length > 0) {
      const batch = this.#queue;
      this.#queue = [];
      try {
        await this.#writeBatch(batch);
      } catch (err) {
        this.#poisonWith(err, batch);
      }
    }
    this.#flushing = false;
    for (const wake of this.#idle.splice(0)) wake();
  }

  async #writeBatch(batch: Entry[]): Promise<void> {
    let run: RecordEntry[] = [];
    let runBytes = 0;
    for (const e of batch) {
      if (e.kind === 'roll') {
        await this.#commitRun(run);
        run = [];
        runBytes = 0;
        if (this.#active.size > 0) await this.#roll();
        const snap: RecordEntry[] = e.snapshot().map((json) => ({
          kind: 'rec', buf: encodeFrame(json), onDurable: undefined, resolve: () => {}, reject: () => {}, settled: false,
        }));
        await this.#commitRun(snap);
        e.settled = true;
        e.resolve(this.#active.id);
        continue;
      }
      const used = this.#active.size + runBytes;
      if (used > 0 && used + e.buf.length > this.#segmentBytes) {
        await this.#commitRun(run);
        run = [];
        runBytes = 0;
        if (this.#active.size > 0) await this.#roll();
      }
      run.push(e);
      runBytes += e.buf.length;
    }
    await this.#commitRun(run);
  }

  /** One write + one sync for a run of records that fit the active segment, then their callbacks. */
  async #commitRun(run: RecordEntry[]): Promise<void> {
    if (run.length === 0) return;
    const seg = this.#active;
    const start = seg.size;
    const buf = run.length === 1 ? (run[0] as RecordEntry).buf : Buffer.concat(run.map((e) => e.buf));
    await writeFully(seg.fh, buf, start);
    await syncData(seg.fh, this.#sync);
    this.syncs++;
    seg.size = start + buf.length;
    seg.crc = crc32(buf, seg.crc);
    let off = start;
    for (const e of run) {
      const len = e.buf.length;
      e.settled = true;
      try {
        e.resolve(e.onDurable ? e.onDurable(seg.id, off, len) : undefined);
      } catch (err) {
        e.reject(err); // an owner's bookkeeping bug must not poison the log
      }
      off += len;
    }
    try {
      this.#onFlushed?.(seg);
    } catch (err) {
      this.#report({ level: 'error', event: 'flush_hook_failed', path: seg.path, detail: { error: String(err) } });
    }
  }

  /** Seals the active segment (full fsync) and starts the next one (O_EXCL + directory fsync). */
  async #roll(): Promise<void> {
    const old = this.#active;
    await syncFull(old.fh, this.#sync);
    this.#active = await this.#create(old.id + 1);
    old.sealed = true;
    try {
      this.#onSeal?.(old);
    } catch (err) {
      this.#report({ level: 'error', event: 'seal_hook_failed', path: old.path, detail: { error: String(err) } });
    }
  }

  #poisonWith(err: unknown, batch: Entry[]): void {
    const reason = err instanceof Error ? err.message : String(err);
    this.#poison ??= new StoreError(
      'EPOISONED',
      `${this.dir}: ${this.name} log write failed (${reason}); no further writes are accepted, restart to recover`,
    );
    this.#report({ level: 'error', event: 'log_poisoned', path: this.dir, detail: { log: this.name, error: reason } });
    for (const e of batch) if (!e.settled) e.reject(this.#poison);
    for (const e of this.#queue.splice(0)) e.reject(this.#poison);
  }

  // ---- reading

  /** The framed record at (segment, offset, length), CRC-checked and parsed. */
  read(segment: number, offset: number, length: number): Promise<DecodedFrame> {
    const seg = this.#segments.get(segment);
    if (this.#closed) return Promise.reject(new StoreError('ECLOSED', 'store is closed'));
    if (!seg) return Promise.reject(new StoreError('ECORRUPT', `${this.dir}: segment ${segment} is gone`));
    seg.readers++;
    return readExactly(seg.fh, offset, length, seg.path)
      .then((buf) => {
        const f = decodeFrame(buf);
        if (typeof f === 'string') throw new StoreError('ECORRUPT', `${seg.path}: bad record at offset ${offset} (${f})`);
        return f;
      })
      .finally(() => {
        seg.readers--;
        if (seg.retired && seg.readers === 0) void seg.fh.close().catch(() => {});
      });
  }

  /** Reads a contiguous byte range of a segment (for batched page reads and compaction). */
  readRange(segment: number, offset: number, length: number): Promise<Buffer> {
    const seg = this.#segments.get(segment);
    if (this.#closed) return Promise.reject(new StoreError('ECLOSED', 'store is closed'));
    if (!seg) return Promise.reject(new StoreError('ECORRUPT', `${this.dir}: segment ${segment} is gone`));
    seg.readers++;
    return readExactly(seg.fh, offset, length, seg.path).finally(() => {
      seg.readers--;
      if (seg.retired && seg.readers === 0) void seg.fh.close().catch(() => {});
    });
  }

  /** Decodes every record of a sealed segment (compaction input). */
  async scanSegment(segment: number, onFrame: (f: DecodedFrame, offset: number, length: number) => void): Promise<void> {
    const seg = this.#segments.get(segment);
    if (!seg) throw new StoreError('ECORRUPT', `${this.dir}: segment ${segment} is gone`);
    seg.readers++;
    try {
      const stop = await this.#scan(seg, 0, 0, onFrame);
      if (stop.error !== undefined) throw new StoreError('ECORRUPT', `${seg.path}: bad record at offset ${stop.end} (${stop.error})`);
    } finally {
      seg.readers--;
      if (seg.retired && seg.readers === 0) void seg.fh.close().catch(() => {});
    }
  }

  // ---- maintenance

  segments(): SegmentInfo[] {
    return [...this.#segments.values()].sort((a, b) => a.id - b.id);
  }

  segment(id: number): SegmentInfo | undefined {
    return this.#segments.get(id);
  }

  get activeId(): number {
    return this.#active.id;
  }

  sidecarPath(id: number, suffix: string): string {
    return sidecarPath(this.dir, id, suffix);
  }

  /**
   * Atomically replaces a sealed segment with `records` (crash-safe: tmp, fsync, rename, fsync
   * dir). `commit` receives the new offsets and runs synchronously with the handle swap, so the
   * owner's index and the file never disagree for a reader.
   */
  async replaceSegment(id: number, records: string[], commit: (offsets: number[], lengths: number[]) => void): Promise<void> {
    const seg = this.#segments.get(id);
    if (!seg || !seg.sealed) throw new Error(`segment ${id} is not a sealed segment`);
    if (records.length === 0) {
      commit([], []);
      await this.removeSegments([id]);
      return;
    }
    const frames = records.map(encodeFrame);
    const offsets: number[] = [];
    const lengths: number[] = [];
    let off = 0;
    for (const f of frames) {
      offsets.push(off);
      lengths.push(f.length);
      off += f.length;
    }
    const tmp = `${seg.path}.compact.tmp`;
    const out = await fs.open(tmp, 'wx', 0o600);
    const content = Buffer.concat(frames);
    try {
      await writeFully(out, content, 0);
      await syncFull(out, this.#sync);
    } finally {
      await out.close();
    }
    // A sidecar must never describe the old file under the new name; remove it before the rename.
    for (const s of this.#sidecars) await fs.rm(this.sidecarPath(id, s), { force: true });
    await fs.rename(tmp, seg.path);
    await syncDir(this.dir, this.#sync);
    const fh = await fs.open(seg.path, 'r');
    if (this.#closed || this.#segments.get(id) !== seg) {
      await fh.close();
      throw new StoreError('ECLOSED', 'store closed during compaction');
    }
    const next = new Segment(id, seg.path, fh, off, true);
    next.crc = crc32(content);
    this.#segments.set(id, next);
    seg.retire();
    commit(offsets, lengths);
  }

  /** Deletes sealed segments (retention, snapshots). The owner drops its index entries first. */
  async removeSegments(ids: number[]): Promise<void> {
    const gone: Segment[] = [];
    for (const id of [...ids].sort((a, b) => a - b)) {
      const seg = this.#segments.get(id);
      if (!seg || !seg.sealed) continue;
      this.#segments.delete(id);
      gone.push(seg);
    }
    for (const seg of gone) {
      for (const s of this.#sidecars) await fs.rm(this.sidecarPath(seg.id, s), { force: true });
      await fs.rm(seg.path, { force: true });
      seg.retire();
    }
    if (gone.length > 0) await syncDir(this.dir, this.#sync);
  }

  stats(): { segments: number; bytes: number } {
    let bytes = 0;
    for (const s of this.#segments.values()) bytes += s.size;
    return { segments: this.#segments.size, bytes };
  }

  /** Resolves once everything queued so far is written (or failed). */
  drain(): Promise<void> {
    if (!this.#flushing && !this.#scheduled && this.#queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  /** Flushes what is queued, then closes every file. Later calls reject with ECLOSED. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true; // refuse new records first, then flush the queued ones
    await this.drain();
    await this.#closeHandles();
  }

  async #closeHandles(): Promise<void> {
    for (const seg of this.#segments.values()) await seg.fh.close().catch((err: unknown) => {
      if (errnoCode(err) !== 'EBADF') throw err;
    });
  }
}
