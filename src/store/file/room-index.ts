// In-memory state of one room: where each retained message lives, plus a few small caches.
//
// Seqs of a room are contiguous in the log (assigned at call time, written in call order, and a
// crash only ever loses a suffix), so entry i of the index is seq `base + i` and the index needs
// no seq column: three Uint32 per message (segment, offset, length), about 12 bytes, instead of
// one JS object per message.

export const DELETED = 0x80000000;
const LEN_MASK = 0x7fffffff;
/** Segment 0 never exists: an entry with segment 0 has no record left (compacted away). */
export const GONE = 0;
export const HOT_PER_ROOM = 64;
export const CID_WINDOW = 1024;

export interface Location {
  seg: number;
  off: number;
  len: number;
}

export class RoomIndex {
  readonly id: string;
  /** stride 3: segment, offset, length | DELETED */
  #idx = new Uint32Array(3 * 4);
  /** seq of entry 0 */
  base = 1;
  /** entries before head are dropped (trim, retention) */
  head = 0;
  /** entries in use */
  n = 0;
  /** seqs below floor are trimmed */
  floor = 0;
  /** newest seq that is durable (message, trim floor - 1, or high-water record) */
  lastSeq = 0;
  /** segment of the record that establishes lastSeq (retention and compaction must keep that fact) */
  lastSeg = 0;
  /** next seq to hand out; runs ahead of lastSeq while appends are in flight */
  nextSeq = 1;
  /** retained, not deleted */
  live = 0;
  /** JSON of the newest messages (seq hotBase + i); cheap to copy on every read by parsing */
  hot: (string | undefined)[] = [];
  hotBase = 0;
  /** cid → seq for the newest CID_WINDOW messages that carried one */
  cids = new Map<string, number>();
  /** appends with a cid that are not durable yet, so a fast retry joins the first attempt */
  pendingCids = new Map<string, Promise<unknown>>();

  constructor(id: string) {
    this.id = id;
  }

  get firstSeq(): number {
    return this.base + this.head;
  }

  /** One past the newest indexed seq. */
  get endSeq(): number {
    return this.base + this.n;
  }

  #slot(seq: number): number {
    const i = seq - this.base;
    return i >= this.head && i < this.n && seq >= this.floor ? i : -1;
  }

  /** Location of a retained, not deleted message. */
  locate(seq: number): Location | undefined {
    const i = this.#slot(seq);
    if (i < 0) return undefined;
    const len = this.#idx[i * 3 + 2] as number;
    const seg = this.#idx[i * 3] as number;
    if (len & DELETED || seg === GONE) return undefined;
    return { seg, off: this.#idx[i * 3 + 1] as number, len };
  }

  isLive(seq: number): boolean {
    return this.locate(seq) !== undefined;
  }

  /** Raw entry even if deleted (compaction needs to know where dead records still are). */
  raw(seq: number): { seg: number; off: number; len: number; deleted: boolean } | undefined {
    const i = seq - this.base;
    if (i < this.head || i >= this.n) return undefined;
    const len = this.#idx[i * 3 + 2] as number;
    return { seg: this.#idx[i * 3] as number, off: this.#idx[i * 3 + 1] as number, len: len & LEN_MASK, deleted: (len & DELETED) !== 0 };
  }

  /**
   * Adds the entry for `seq`. Returns false for a seq already indexed (never expected; the caller
   * reports it). A jump forward (messages compacted away after a high-water record) is filled
   * with GONE entries so that entry i stays seq base + i.
   */
  push(seq: number, seg: number, off: number, len: number): boolean {
    if (this.n === this.head) {
      this.head = 0;
      this.n = 0;
      this.base = seq;
    } else if (seq < this.endSeq) {
      return false;
    }
    while (this.endSeq < seq) this.#put(GONE, 0, DELETED);
    this.#put(seg, off, len);
    this.live++;
    return true;
  }

  #put(seg: number, off: number, len: number): void {
    if ((this.n + 1) * 3 > this.#idx.length) this.#grow();
    const i = this.n * 3;
    this.#idx[i] = seg;
    this.#idx[i + 1] = off;
    this.#idx[i + 2] = len;
    this.n++;
  }

  #grow(): void {
    // Drop the dead prefix first if that frees enough; otherwise double.
    if (this.head > 0 && this.head >= this.n / 2) {
      this.#idx.copyWithin(0, this.head * 3, this.n * 3);
      this.base += this.head;
      this.n -= this.head;
      this.head = 0;
      if ((this.n + 1) * 3 <= this.#idx.length) return;
    }
    const bigger = new Uint32Array(Math.max(12, this.#idx.length * 2));
    bigger.set(this.#idx.subarray(0, this.n * 3));
    this.#idx = bigger;
  }

  /** Marks a message deleted; returns its location if it was live. */
  markDeleted(seq: number): Location | undefined {
    const loc = this.locate(seq);
    if (!loc) return undefined;
    const i = seq - this.base;
    this.#idx[i * 3 + 2] = loc.len | DELETED;
    this.live--;
    const h = seq - this.hotBase;
    if (h >= 0 && h < this.hot.length) this.hot[h] = undefined;
    return loc;
  }

  /** Raises the floor; calls onDrop for every live message that falls below it. */
  raiseFloor(floor: number, onDrop: (loc: Location) => void): number {
    if (floor <= this.floor) return 0;
    this.floor = floor;
    if (floor - 1 > this.lastSeq) this.lastSeq = floor - 1;
    return this.dropWhile((seq) => seq < floor, onDrop);
  }

  /** Drops entries from the oldest end while pred(seq, segment) holds (retention). */
  dropWhile(pred: (seq: number, seg: number) => boolean, onDrop: (loc: Location) => void): number {
    let dropped = 0;
    while (this.head < this.n) {
      const i = this.head * 3;
      const seq = this.base + this.head;
      const seg = this.#idx[i] as number;
      if (!pred(seq, seg)) break;
      const len = this.#idx[i + 2] as number;
      if (!(len & DELETED) && seg !== GONE) {
        this.live--;
        dropped++;
        onDrop({ seg, off: this.#idx[i + 1] as number, len });
      }
      this.head++;
    }
    if (this.head === this.n) {
      this.head = 0;
      this.n = 0;
      this.base = Math.max(this.floor, this.lastSeq + 1);
    }
    return dropped;
  }

  /** Moves an entry after compaction rewrote its segment (only if it still points at the old place). */
  relocate(seq: number, seg: number, oldOff: number, newOff: number): boolean {
    const i = seq - this.base;
    if (i < this.head || i >= this.n || this.#idx[i * 3] !== seg || this.#idx[i * 3 + 1] !== oldOff) return false;
    this.#idx[i * 3 + 1] = newOff;
    return true;
  }

  /** Marks an entry's record as gone (compaction dropped it). */
  forget(seq: number, seg: number, off: number): void {
    const i = seq - this.base;
    if (i < this.head || i >= this.n || this.#idx[i * 3] !== seg || this.#idx[i * 3 + 1] !== off) return;
    this.#idx[i * 3] = GONE;
    this.#idx[i * 3 + 1] = 0;
    this.#idx[i * 3 + 2] = DELETED;
  }

  /** Walks retained seqs upward from `from` (inclusive) up to `to` (inclusive); stop by returning false. */
  forEachUp(from: number, to: number, fn: (seq: number, loc: Location) => boolean): void {
    const start = Math.max(from, this.firstSeq, this.floor);
    const end = Math.min(to, this.endSeq - 1);
    for (let seq = start; seq <= end; seq++) {
      const loc = this.locate(seq);
      if (loc && !fn(seq, loc)) return;
    }
  }

  /** Walks retained seqs downward from `from` (inclusive). */
  forEachDown(from: number, fn: (seq: number, loc: Location) => boolean): void {
    const low = Math.max(this.firstSeq, this.floor);
    for (let seq = Math.min(from, this.endSeq - 1); seq >= low; seq--) {
      const loc = this.locate(seq);
      if (loc && !fn(seq, loc)) return;
    }
  }

  /** Seq such that exactly `drop` live messages lie below it (for trim). */
  floorAfterDropping(drop: number): number {
    let seq = Math.max(this.firstSeq, this.floor);
    let left = drop;
    while (left > 0 && seq < this.endSeq) {
      if (this.locate(seq)) left--;
      seq++;
    }
    return seq;
  }

  // ---- caches

  /** Remembers the JSON of a newly durable message; returns the change in cached entries. */
  cache(seq: number, json: string): number {
    const before = this.hot.length;
    if (this.hot.length === 0 || seq !== this.hotBase + this.hot.length) {
      this.hot = [json];
      this.hotBase = seq;
    } else {
      this.hot.push(json);
      if (this.hot.length >= 2 * HOT_PER_ROOM) {
        this.hot.splice(0, this.hot.length - HOT_PER_ROOM);
        this.hotBase = seq - HOT_PER_ROOM + 1;
      }
    }
    return this.hot.length - before;
  }

  cached(seq: number): string | undefined {
    const h = seq - this.hotBase;
    return h >= 0 && h < this.hot.length ? this.hot[h] : undefined;
  }

  /** Drops the hot cache; returns how many entries it held. */
  evict(): number {
    const n = this.hot.length;
    this.hot = [];
    return n;
  }

  rememberCid(cid: string, seq: number): void {
    this.cids.delete(cid);
    this.cids.set(cid, seq);
    if (this.cids.size > CID_WINDOW) {
      const oldest = this.cids.keys().next();
      if (!oldest.done) this.cids.delete(oldest.value);
    }
  }
}
