// One log record per line: `<crc32 as 8 lowercase hex digits> <json>\n`.
//
// JSON.stringify never emits a raw newline, so a line is always one record and the files stay
// readable with `cut -d' ' -f2- | jq`. The CRC covers the JSON bytes only; it catches torn writes
// (a partial line, or NUL pages a filesystem hands back after a crash) and bit rot.

import { crc32 } from 'node:zlib';

const NL = 0x0a;
const SPACE = 0x20;
/** 8 hex digits + one space. */
export const HEADER_BYTES = 9;

/** Frames an already-serialised JSON value. One allocation; the CRC is computed in place. */
export function encodeFrame(json: string): Buffer {
  const n = Buffer.byteLength(json);
  const buf = Buffer.allocUnsafe(n + HEADER_BYTES + 1);
  buf.write(json, HEADER_BYTES, 'utf8');
  const crc = crc32(buf.subarray(HEADER_BYTES, HEADER_BYTES + n));
  buf.write(crc.toString(16).padStart(8, '0'), 0, 'latin1');
  buf[8] = SPACE;
  buf[n + HEADER_BYTES] = NL;
  return buf;
}

export type FrameError = 'partial' | 'zeros' | 'format' | 'crc' | 'json';

export interface DecodedFrame {
  value: unknown;
  json: string;
}

function hexNibble(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  return -1;
}

/**
 * Decodes the line buf[start, nl) where buf[nl] is the newline. Returns the reason on failure
 * instead of throwing, because recovery treats any failure as "the log ends here".
 */
export function decodeLine(buf: Buffer, start: number, nl: number): DecodedFrame | FrameError {
  if (buf[start] === 0) return 'zeros';
  if (nl - start < HEADER_BYTES + 1 || buf[start + 8] !== SPACE) return 'format';
  let want = 0;
  for (let i = 0; i < 8; i++) {
    const v = hexNibble(buf[start + i] as number);
    if (v < 0) return 'format';
    want = want * 16 + v;
  }
  if (crc32(buf.subarray(start + HEADER_BYTES, nl)) !== want) return 'crc';
  const json = buf.toString('utf8', start + HEADER_BYTES, nl);
  try {
    return { value: JSON.parse(json), json };
  } catch {
    return 'json';
  }
}

/** Decodes exactly one whole frame (as read back from a known offset and length). */
export function decodeFrame(buf: Buffer): DecodedFrame | FrameError {
  const last = buf.length - 1;
  if (last < 0) return 'partial';
  if (buf[last] !== NL) return buf[0] === 0 ? 'zeros' : 'partial';
  return decodeLine(buf, 0, last);
}

export interface ScanStop {
  /** Offset just past the last good frame. */
  end: number;
  /** Why scanning stopped before the end of the data; undefined if every byte was consumed. */
  error?: FrameError;
}

/**
 * Walks the frames of buf starting at `from`, calling onFrame(frame, offset, length) for each.
 * Stops at the first bad frame or at a trailing partial line. `final` says whether buf holds the
 * end of the file: if not, a trailing partial line is not an error, just not yet complete.
 */
export function scanFrames(
  buf: Buffer,
  from: number,
  final: boolean,
  onFrame: (frame: DecodedFrame, offset: number, length: number) => void,
): ScanStop {
  let pos = from;
  while (pos < buf.length) {
    const nl = buf.indexOf(NL, pos);
    if (nl < 0) {
      if (!final) return { end: pos };
      return { end: pos, error: allZero(buf, pos) ? 'zeros' : 'partial' };
    }
    const frame = decodeLine(buf, pos, nl);
    if (typeof frame === 'string') return { end: pos, error: frame };
    onFrame(frame, pos, nl + 1 - pos);
    pos = nl + 1;
  }
  return { end: pos };
}

function allZero(buf: Buffer, from: number): boolean {
  for (let i = from; i < buf.length; i++) if (buf[i] !== 0) return false;
  return true;
}
