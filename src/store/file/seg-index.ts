// Binary sidecar index for a sealed message segment (`seg-N.idx`, storage.md §5.4): what the
// message store needs to rebuild its in-memory index without parsing the segment's JSON.
//
// It is only a cache. It is trusted only if its own CRC, the segment's size and the segment's
// last frame all match; otherwise the segment is scanned and the sidecar rewritten. Compaction
// removes it before replacing the segment, so it can never describe an older file.
//
// Layout (little-endian):
//   0  'FHIX'          4  u32 version (1)     8  u32 crc32 of bytes 12..end
//   12 f64 segment size 20 f64 newest message ts  28 u32 record count
//   32 u32 last record offset  36 u32 last record length  40 u32 strings length (S)
//   44 u32 crc32 of the whole segment file
//   48 S bytes of JSON {"rooms":[...],"cids":[[roomIndex,seq,"cid"],...]}, padded to 4
//   then count × 5 u32: type, room index, seq (floor for trim), offset, length

import { crc32 } from 'node:zlib';

export const T_MSG = 1;
export const T_DEL = 2;
export const T_TRIM = 3;
export const T_HW = 4;

const MAGIC = 0x58494846; // 'FHIX' read as LE u32
const VERSION = 1;
const HEADER = 48;
const STRIDE = 5;
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** Collects the records of one segment as they become durable (or are scanned). */
export class SegmentIndexBuilder {
  readonly segment: number;
  rooms: string[] = [];
  #roomIdx = new Map<string, number>();
  data = new Uint32Array(STRIDE * 256);
  count = 0;
  maxTs = 0;

  constructor(segment: number) {
    this.segment = segment;
  }

  add(type: number, room: string, seq: number, offset: number, length: number, ts = 0): void {
    let r = this.#roomIdx.get(room);
    if (r === undefined) {
      r = this.rooms.length;
      this.rooms.push(room);
      this.#roomIdx.set(room, r);
    }
    if ((this.count + 1) * STRIDE > this.data.length) {
      const bigger = new Uint32Array(this.data.length * 2);
      bigger.set(this.data);
      this.data = bigger;
    }
    const i = this.count * STRIDE;
    this.data[i] = type;
    this.data[i + 1] = r;
    this.data[i + 2] = seq;
    this.data[i + 3] = offset;
    this.data[i + 4] = length;
    this.count++;
    if (ts > this.maxTs) this.maxTs = ts;
  }

  /** cids: [room, seq, cid] of messages in this segment that are still in their room's cid window. */
  encode(segmentSize: number, segmentCrc: number, cids: [string, number, string][]): Buffer {
    const cidRows = cids.map(([room, seq, cid]) => [this.#roomIdx.get(room) ?? -1, seq, cid] as const).filter((c) => c[0] >= 0);
    const strings = Buffer.from(JSON.stringify({ rooms: this.rooms, cids: cidRows }), 'utf8');
    const padded = (strings.length + 3) & ~3;
    const buf = Buffer.alloc(HEADER + padded + this.count * STRIDE * 4);
    buf.writeUInt32LE(MAGIC, 0);
    buf.writeUInt32LE(VERSION, 4);
    buf.writeDoubleLE(segmentSize, 12);
    buf.writeDoubleLE(this.maxTs, 20);
    buf.writeUInt32LE(this.count, 28);
    const last = (this.count - 1) * STRIDE;
    buf.writeUInt32LE(this.count > 0 ? (this.data[last + 3] as number) : 0, 32);
    buf.writeUInt32LE(this.count > 0 ? (this.data[last + 4] as number) : 0, 36);
    buf.writeUInt32LE(strings.length, 40);
    buf.writeUInt32LE(segmentCrc, 44);
    strings.copy(buf, HEADER);
    const body = new Uint32Array(this.data.buffer, 0, this.count * STRIDE);
    Buffer.from(body.buffer, body.byteOffset, body.byteLength).copy(buf, HEADER + padded);
    if (!LITTLE_ENDIAN) {
      // Big-endian host: rewrite the body little-endian so the file is portable.
      for (let i = 0; i < this.count * STRIDE; i++) buf.writeUInt32LE(this.data[i] as number, HEADER + padded + i * 4);
    }
    buf.writeUInt32LE(crc32(buf.subarray(12)), 8);
    return buf;
  }
}

export interface DecodedIndex {
  segmentSize: number;
  segmentCrc: number;
  maxTs: number;
  count: number;
  lastOffset: number;
  lastLength: number;
  rooms: string[];
  cids: [number, number, string][];
  /** count × 5: type, room index, seq, offset, length. */
  records: Uint32Array;
}

/** Parses and checks a sidecar; returns a reason string when it cannot be trusted. */
export function decodeIndex(buf: Buffer): DecodedIndex | string {
  if (buf.length < HEADER) return 'too short';
  if (buf.readUInt32LE(0) !== MAGIC) return 'bad magic';
  if (buf.readUInt32LE(4) !== VERSION) return 'unknown version';
  if (buf.readUInt32LE(8) !== crc32(buf.subarray(12))) return 'crc mismatch';
  const count = buf.readUInt32LE(28);
  const sLen = buf.readUInt32LE(40);
  const padded = (sLen + 3) & ~3;
  if (buf.length !== HEADER + padded + count * STRIDE * 4) return 'bad length';
  let strings: { rooms: string[]; cids: [number, number, string][] };
  try {
    strings = JSON.parse(buf.toString('utf8', HEADER, HEADER + sLen)) as typeof strings;
  } catch {
    return 'bad strings';
  }
  if (!Array.isArray(strings.rooms) || !Array.isArray(strings.cids)) return 'bad strings';
  // Copy into an aligned array (a read buffer may start at any byte offset).
  const start = HEADER + padded;
  let records: Uint32Array;
  if (LITTLE_ENDIAN && (buf.byteOffset + start) % 4 === 0) {
    records = new Uint32Array(buf.buffer, buf.byteOffset + start, count * STRIDE).slice();
  } else {
    records = new Uint32Array(count * STRIDE);
    for (let i = 0; i < records.length; i++) records[i] = buf.readUInt32LE(start + i * 4);
  }
  return {
    segmentSize: buf.readDoubleLE(12),
    segmentCrc: buf.readUInt32LE(44),
    maxTs: buf.readDoubleLE(20),
    count,
    lastOffset: buf.readUInt32LE(32),
    lastLength: buf.readUInt32LE(36),
    rooms: strings.rooms,
    cids: strings.cids,
    records,
  };
}
