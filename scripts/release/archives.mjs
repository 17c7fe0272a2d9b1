// Deterministic archives without dependencies: the same files always give the same bytes.
// - tar (ustar): mtime 0, uid/gid 0, no user or group names, entries in the order given;
//   gzip: a fixed header (no name, mtime 0, OS = Unix) around raw deflate at level 6.
// - zip: DOS epoch (1980-01-01 00:00) timestamps, no extra fields, Unix mode in the external attributes.
// Readers for both are here too: the build extracts node from npm's .tgz, and the tests read back
// what the writers made.
import { promisify } from 'node:util';
import zlib from 'node:zlib';

const deflateRaw = promisify(zlib.deflateRaw);
const BLOCK = 512;

// ---------------------------------------------------------------- CRC-32 (zip and gzip trailers)

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32 (IEEE), as zip and gzip use it. zlib.crc32 when this Node has it (>= 20.15). */
export function crc32(data) {
  if (typeof zlib.crc32 === 'function') return zlib.crc32(data) >>> 0;
  let c = 0xffffffff;
  for (let i = 0; i < data.length; i++) c = CRC_TABLE[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

// ---------------------------------------------------------------- tar

function writeOctal(header, offset, length, value) {
  // length - 1 octal digits, then NUL
  const text = value.toString(8).padStart(length - 1, '0');
  if (text.length > length - 1) throw new Error(`tar: value ${value} does not fit in ${length - 1} octal digits`);
  header.write(text, offset, length - 1, 'ascii');
  header[offset + length - 1] = 0;
}

function tarHeader(name, size, mode, type = '0') {
  const header = Buffer.alloc(BLOCK);
  let prefix = '';
  let base = name;
  if (Buffer.byteLength(name) > 100) {
    const cut = name.lastIndexOf('/', 155);
    if (cut <= 0 || Buffer.byteLength(name.slice(cut + 1)) > 100) throw new Error(`tar: path too long: ${name}`);
    prefix = name.slice(0, cut);
    base = name.slice(cut + 1);
  }
  header.write(base, 0, 100, 'utf8');
  writeOctal(header, 100, 8, mode);
  writeOctal(header, 108, 8, 0); // uid
  writeOctal(header, 116, 8, 0); // gid
  writeOctal(header, 124, 12, size);
  writeOctal(header, 136, 12, 0); // mtime: the epoch, always
  header.fill(0x20, 148, 156); // checksum field counts as spaces while summing
  header.write(type, 156, 1, 'ascii');
  header.write('ustar\u000000', 257, 8, 'ascii'); // POSIX ustar magic + version "00"
  writeOctal(header, 329, 8, 0); // devmajor
  writeOctal(header, 337, 8, 0); // devminor
  header.write(prefix, 345, 155, 'utf8');
  let sum = 0;
  for (const byte of header) sum += byte;
  header.write(sum.toString(8).padStart(6, '0') + '\u0000 ', 148, 8, 'ascii');
  return header;
}

/**
 * A tar archive of `entries` ({ name, data, mode? }) in the order given. Directories are not
 * listed: every entry is a regular file. Ends with the two zero blocks the format requires.
 */
export function createTar(entries) {
  const parts = [];
  for (const entry of entries) {
    const data = Buffer.from(entry.data);
    parts.push(tarHeader(entry.name, data.length, entry.mode ?? 0o644));
    parts.push(data);
    const pad = (BLOCK - (data.length % BLOCK)) % BLOCK;
    if (pad) parts.push(Buffer.alloc(pad));
  }
  parts.push(Buffer.alloc(BLOCK * 2));
  return Buffer.concat(parts);
}

function readString(buf, offset, length) {
  const end = buf.indexOf(0, offset);
  return buf.toString('utf8', offset, end === -1 || end > offset + length ? offset + length : end);
}

function readNumber(buf, offset, length) {
  if (buf[offset] & 0x80) {
    // GNU base-256
    let value = 0;
    for (let i = 1; i < length; i++) value = value * 256 + buf[offset + i];
    return value;
  }
  const text = readString(buf, offset, length).trim();
  return text ? parseInt(text, 8) : 0;
}

function parsePax(data) {
  const fields = {};
  let pos = 0;
  while (pos < data.length) {
    const space = data.indexOf(0x20, pos);
    if (space === -1) break;
    const length = parseInt(data.toString('ascii', pos, space), 10);
    if (!(length > 0)) break;
    const record = data.toString('utf8', space + 1, pos + length - 1);
    const eq = record.indexOf('=');
    if (eq > 0) fields[record.slice(0, eq)] = record.slice(eq + 1);
    pos += length;
  }
  return fields;
}

/**
 * Reads a tar archive (ustar, with pax `x` and GNU `L` long names): the regular files, as
 * [{ name, mode, size, mtime, uid, gid, uname, gname, type, data }]. Checks every header's checksum.
 */
export function readTar(buf) {
  const files = [];
  let pos = 0;
  let pax = {};
  let longName;
  while (pos + BLOCK <= buf.length) {
    const header = buf.subarray(pos, pos + BLOCK);
    if (header.every((byte) => byte === 0)) break;
    let sum = 0;
    for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : header[i];
    const stored = readNumber(header, 148, 8);
    if (sum !== stored) throw new Error(`tar: bad header checksum at offset ${pos}`);
    const type = String.fromCharCode(header[156] || 0x30);
    let size = readNumber(header, 124, 12);
    if (pax.size !== undefined) size = Number(pax.size);
    const dataStart = pos + BLOCK;
    if (dataStart + size > buf.length) throw new Error(`tar: truncated entry at offset ${pos}`);
    const data = buf.subarray(dataStart, dataStart + size);
    pos = dataStart + Math.ceil(size / BLOCK) * BLOCK;
    if (type === 'x') {
      pax = parsePax(data);
      continue;
    }
    if (type === 'g') continue;
    if (type === 'L') {
      longName = readString(data, 0, data.length);
      continue;
    }
    const prefix = readString(header, 345, 155);
    const base = readString(header, 0, 100);
    const name = pax.path ?? longName ?? (prefix ? `${prefix}/${base}` : base);
    if (type === '0' || type === '7') {
      files.push({
        name,
        type,
        size,
        mode: readNumber(header, 100, 8),
        uid: readNumber(header, 108, 8),
        gid: readNumber(header, 116, 8),
        mtime: readNumber(header, 136, 12),
        uname: readString(header, 265, 32),
        gname: readString(header, 297, 32),
        data,
      });
    }
    pax = {};
    longName = undefined;
  }
  return files;
}

// ---------------------------------------------------------------- gzip

// ID1 ID2 CM=deflate FLG=0 MTIME=0 (4 bytes) XFL=0 OS=3 (Unix): the same bytes on every build host.
const GZIP_HEADER = Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0x00, 0x03]);

/** gzip with a fixed header (no file name, mtime 0, OS Unix) around raw deflate. */
export async function gzipDeterministic(data, level = 6) {
  const body = await deflateRaw(data, { level, memLevel: 8, windowBits: 15, strategy: zlib.constants.Z_DEFAULT_STRATEGY });
  const trailer = Buffer.alloc(8);
  trailer.writeUInt32LE(crc32(data), 0);
  trailer.writeUInt32LE(data.length >>> 0, 4);
  return Buffer.concat([GZIP_HEADER, body, trailer]);
}

/** A deterministic .tar.gz of `entries` ({ name, data, mode? }). */
export async function createTarGz(entries, level = 6) {
  return gzipDeterministic(createTar(entries), level);
}

// ---------------------------------------------------------------- zip

const DOS_TIME = 0; // 00:00:00
const DOS_DATE = (0 << 9) | (1 << 5) | 1; // 1980-01-01, the DOS epoch

/**
 * A zip archive of `entries` ({ name, data, mode? }) in the order given: deflate (level 6), DOS
 * epoch timestamps, no extra fields. "Made by" Unix, so unzip on Linux/macOS keeps the mode.
 */
export async function createZip(entries, level = 6) {
  const locals = [];
  const centrals = [];
  let offset = 0;
  for (const entry of entries) {
    const data = Buffer.from(entry.data);
    const name = Buffer.from(entry.name, 'utf8');
    const compressed = await deflateRaw(data, { level, memLevel: 8, windowBits: 15 });
    const crc = crc32(data);
    if (data.length >= 0xffffffff || offset >= 0xffffffff) throw new Error('zip: entries over 4 GiB need zip64, which is not supported');
    const utf8 = /[^\x20-\x7e]/.test(entry.name) ? 0x0800 : 0;

    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4); // version needed: 2.0 (deflate)
    local.writeUInt16LE(utf8, 6);
    local.writeUInt16LE(8, 8); // deflate
    local.writeUInt16LE(DOS_TIME, 10);
    local.writeUInt16LE(DOS_DATE, 12);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(compressed.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(0, 28);
    locals.push(local, name, compressed);

    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE((3 << 8) | 20, 4); // made by: Unix, spec 2.0
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(utf8, 8);
    central.writeUInt16LE(8, 10);
    central.writeUInt16LE(DOS_TIME, 12);
    central.writeUInt16LE(DOS_DATE, 14);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(compressed.length, 20);
    central.writeUInt32LE(data.length, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt16LE(0, 30); // extra
    central.writeUInt16LE(0, 32); // comment
    central.writeUInt16LE(0, 34); // disk
    central.writeUInt16LE(0, 36); // internal attributes
    central.writeUInt32LE(((0o100000 | (entry.mode ?? 0o644)) << 16) >>> 0, 38);
    central.writeUInt32LE(offset, 42);
    centrals.push(central, name);

    offset += local.length + name.length + compressed.length;
  }
  const centralSize = centrals.reduce((sum, part) => sum + part.length, 0);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(0, 4);
  end.writeUInt16LE(0, 6);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(centralSize, 12);
  end.writeUInt32LE(offset, 16);
  end.writeUInt16LE(0, 20);
  return Buffer.concat([...locals, ...centrals, end]);
}

/**
 * Reads a zip made by createZip (or any zip without zip64): [{ name, mode, dosDate, dosTime, data }].
 * Inflates each entry and checks its CRC-32 and size.
 */
export function readZip(buf) {
  const endAt = buf.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  if (endAt === -1) throw new Error('zip: no end of central directory record');
  const count = buf.readUInt16LE(endAt + 10);
  let pos = buf.readUInt32LE(endAt + 16);
  const files = [];
  for (let i = 0; i < count; i++) {
    if (buf.readUInt32LE(pos) !== 0x02014b50) throw new Error(`zip: bad central directory entry at ${pos}`);
    const method = buf.readUInt16LE(pos + 10);
    const dosTime = buf.readUInt16LE(pos + 12);
    const dosDate = buf.readUInt16LE(pos + 14);
    const crc = buf.readUInt32LE(pos + 16);
    const compressedSize = buf.readUInt32LE(pos + 20);
    const size = buf.readUInt32LE(pos + 24);
    const nameLength = buf.readUInt16LE(pos + 28);
    const extraLength = buf.readUInt16LE(pos + 30);
    const commentLength = buf.readUInt16LE(pos + 32);
    const external = buf.readUInt32LE(pos + 38);
    const localAt = buf.readUInt32LE(pos + 42);
    const name = buf.toString('utf8', pos + 46, pos + 46 + nameLength);
    pos += 46 + nameLength + extraLength + commentLength;

    if (buf.readUInt32LE(localAt) !== 0x04034b50) throw new Error(`zip: bad local header for ${name}`);
    const dataAt = localAt + 30 + buf.readUInt16LE(localAt + 26) + buf.readUInt16LE(localAt + 28);
    const raw = buf.subarray(dataAt, dataAt + compressedSize);
    const data = method === 8 ? zlib.inflateRawSync(raw) : method === 0 ? raw : undefined;
    if (!data) throw new Error(`zip: ${name}: unsupported method ${method}`);
    if (data.length !== size || crc32(data) !== crc) throw new Error(`zip: ${name}: CRC or size mismatch`);
    files.push({ name, mode: (external >>> 16) & 0o7777, dosDate, dosTime, data });
  }
  return files;
}
