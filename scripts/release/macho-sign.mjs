// Ad-hoc code signing of 64-bit Mach-O executables, in plain JavaScript, plus a verifier.
//
// Why: Apple silicon kills (`Killed: 9`) any arm64 binary without at least an ad-hoc signature, and
// postject removes node's own signature (LC_CODE_SIGNATURE) when it adds the NODE_SEA segment.
// On a Mac `codesign --force --sign - <file>` does the same; this runs anywhere.
//
// The signature has the layout the Go linker writes (cmd/internal/codesign, cmd/link machoCodeSign):
//   SuperBlob (CSMAGIC_EMBEDDED_SIGNATURE, 1 index entry)
//     CodeDirectory v0x20400, flags adhoc|linker-signed, SHA-256, 4 KiB pages, no special slots,
//     execSeg = __TEXT (MAIN_BINARY for executables), identifier, then one hash per page.
// It sits at the end of __LINKEDIT at a 16-byte aligned offset; nothing follows it. Every page
// hash covers [page start, min(page end, codeLimit)) and codeLimit is the signature's offset, so
// the last partial page is hashed only up to the signature (two bugs that newer macOS enforce).
// Byte-identity with the Go linker's output: pass { identifier: 'a.out', linkeditVmsize: 'filesize' }.
//
// All Mach-O header fields are little-endian (x86_64, arm64); the signature blobs are big-endian.

import { createHash } from 'node:crypto';

const MH_MAGIC_64 = 0xfeedfacf;
const MH_EXECUTE = 0x2;
const LC_SEGMENT_64 = 0x19;
const LC_CODE_SIGNATURE = 0x1d;
const CPU_TYPE_X86_64 = 0x01000007;
const CPU_TYPE_ARM64 = 0x0100000c;

const CSMAGIC_EMBEDDED_SIGNATURE = 0xfade0cc0;
const CSMAGIC_CODEDIRECTORY = 0xfade0c02;
const CSSLOT_CODEDIRECTORY = 0;
const CSSLOT_ALTERNATE_CODEDIRECTORIES = 0x1000;
const CS_ADHOC = 0x2;
const CS_LINKER_SIGNED = 0x20000;
const CS_HASHTYPE_SHA1 = 1;
const CS_HASHTYPE_SHA256 = 2;
const CS_EXECSEG_MAIN_BINARY = 0x1;

const PAGE_SIZE_BITS = 12;
const PAGE_SIZE = 1 << PAGE_SIZE_BITS;
const SUPER_BLOB_SIZE = 12;
const BLOB_INDEX_SIZE = 8;
const CODE_DIRECTORY_SIZE = 13 * 4 + 4 + 4 * 8; // up to and including execSegFlags (v0x20400)
const SHA256_SIZE = 32;

function segName(buf, at) {
  const raw = buf.subarray(at, at + 16);
  const end = raw.indexOf(0);
  return raw.toString('latin1', 0, end === -1 ? 16 : end);
}

function u64(buf, at) {
  const value = buf.readBigUInt64LE(at);
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error('Mach-O: 64-bit field too large');
  return Number(value);
}

/** Header, segments (with their sections) and the code signature command of a 64-bit Mach-O. */
export function parseMachO(buf) {
  if (buf.length < 32 || buf.readUInt32LE(0) !== MH_MAGIC_64) {
    if (buf.length >= 4 && [0xcafebabe, 0xbebafeca].includes(buf.readUInt32BE(0))) throw new Error('Mach-O: fat (universal) binaries are not supported');
    throw new Error('not a 64-bit little-endian Mach-O file');
  }
  const header = {
    cputype: buf.readUInt32LE(4),
    filetype: buf.readUInt32LE(12),
    ncmds: buf.readUInt32LE(16),
    sizeofcmds: buf.readUInt32LE(20),
  };
  const segments = [];
  let codeSignature;
  let at = 32;
  const end = 32 + header.sizeofcmds;
  if (end > buf.length) throw new Error('Mach-O: load commands run past the end of the file');
  for (let i = 0; i < header.ncmds; i++) {
    if (at + 8 > end) throw new Error('Mach-O: load commands overflow sizeofcmds');
    const cmd = buf.readUInt32LE(at);
    const cmdsize = buf.readUInt32LE(at + 4);
    if (cmdsize < 8 || at + cmdsize > end) throw new Error(`Mach-O: bad cmdsize ${cmdsize} in load command ${i}`);
    if (cmd === LC_SEGMENT_64) {
      const nsects = buf.readUInt32LE(at + 64);
      const sections = [];
      for (let s = 0; s < nsects; s++) {
        const sect = at + 72 + s * 80;
        sections.push({
          sectname: segName(buf, sect),
          segname: segName(buf, sect + 16),
          addr: u64(buf, sect + 32),
          size: u64(buf, sect + 40),
          offset: buf.readUInt32LE(sect + 48),
          flags: buf.readUInt32LE(sect + 64),
        });
      }
      segments.push({
        cmdAt: at,
        name: segName(buf, at + 8),
        vmaddr: u64(buf, at + 24),
        vmsize: u64(buf, at + 32),
        fileoff: u64(buf, at + 40),
        filesize: u64(buf, at + 48),
        sections,
      });
    } else if (cmd === LC_CODE_SIGNATURE) {
      codeSignature = { cmdAt: at, dataoff: buf.readUInt32LE(at + 8), datasize: buf.readUInt32LE(at + 12) };
    }
    at += cmdsize;
  }
  return { header, segments, codeSignature, loadCommandsEnd: end };
}

/** Bytes free between the end of the load commands and the first section's file data. */
export function headerPadding(buf, parsed = parseMachO(buf)) {
  let firstData = buf.length;
  for (const segment of parsed.segments) {
    for (const section of segment.sections) {
      // zero-fill sections (S_ZEROFILL 0x1, S_GB_ZEROFILL 0xc, S_THREAD_LOCAL_ZEROFILL 0x12) have no file data
      const type = section.flags & 0xff;
      if (section.offset > 0 && section.size > 0 && type !== 0x1 && type !== 0xc && type !== 0x12) firstData = Math.min(firstData, section.offset);
    }
    if (segment.fileoff > 0 && segment.filesize > 0) firstData = Math.min(firstData, segment.fileoff);
  }
  return firstData - parsed.loadCommandsEnd;
}

/** Size of the ad-hoc signature for `codeLimit` bytes of code (Go's codesign.Size). */
export function signatureSize(codeLimit, identifier) {
  const nPages = Math.ceil(codeLimit / PAGE_SIZE);
  const hashOffset = CODE_DIRECTORY_SIZE + Buffer.byteLength(identifier) + 1;
  return SUPER_BLOB_SIZE + BLOB_INDEX_SIZE + hashOffset + nPages * SHA256_SIZE;
}

function segmentAlignment(cputype) {
  return cputype === CPU_TYPE_ARM64 ? 0x4000 : 0x1000;
}

/**
 * Signs a 64-bit Mach-O executable ad hoc and returns the new file (the input is not modified).
 * options.identifier: the CodeDirectory identifier (default "a.out", as the Go linker).
 * options.linkeditVmsize: "page" (default; __LINKEDIT vmsize rounded up to the segment alignment, as
 *   ld64 and codesign do) or "filesize" (vmsize = filesize, the Go linker's convention).
 * An existing signature is replaced in place (it must be the last thing in the file); otherwise
 * LC_CODE_SIGNATURE is added in the header padding and the signature is appended to __LINKEDIT.
 */
export function adhocSign(input, options = {}) {
  const identifier = options.identifier ?? 'a.out';
  const vmsizeMode = options.linkeditVmsize ?? 'page';
  if (!['page', 'filesize'].includes(vmsizeMode)) throw new Error(`adhocSign: unknown linkeditVmsize ${vmsizeMode}`);
  const parsed = parseMachO(input);
  const { header, segments } = parsed;
  if (header.cputype !== CPU_TYPE_ARM64 && header.cputype !== CPU_TYPE_X86_64) {
    throw new Error(`Mach-O: unsupported CPU type 0x${header.cputype.toString(16)}`);
  }
  const text = segments.find((segment) => segment.name === '__TEXT');
  const linkedit = segments.find((segment) => segment.name === '__LINKEDIT');
  if (!text) throw new Error('Mach-O: no __TEXT segment');
  if (!linkedit) throw new Error('Mach-O: no __LINKEDIT segment');
  for (const segment of segments) {
    if (segment !== linkedit && segment.filesize > 0 && segment.fileoff + segment.filesize > linkedit.fileoff) {
      throw new Error(`Mach-O: segment ${segment.name} lies after __LINKEDIT; the signature must end the file`);
    }
  }

  let sigOff;
  let data;
  let commandAt;
  if (parsed.codeSignature) {
    const { dataoff, datasize, cmdAt } = parsed.codeSignature;
    if (dataoff + datasize !== input.length) {
      throw new Error(`Mach-O: unexpected content after the code signature (${dataoff}+${datasize} != ${input.length})`);
    }
    if (dataoff < linkedit.fileoff) throw new Error('Mach-O: the code signature is not inside __LINKEDIT');
    sigOff = dataoff;
    data = Buffer.from(input.subarray(0, sigOff));
    commandAt = cmdAt;
  } else {
    const linkeditEnd = linkedit.fileoff + linkedit.filesize;
    if (linkeditEnd !== input.length) {
      throw new Error(`Mach-O: __LINKEDIT ends at ${linkeditEnd} but the file is ${input.length} bytes; cannot append a signature`);
    }
    if (headerPadding(input, parsed) < 16) throw new Error('Mach-O: no room in the header padding for LC_CODE_SIGNATURE');
    sigOff = Math.ceil(input.length / 16) * 16;
    data = Buffer.alloc(sigOff);
    input.copy(data, 0, 0, input.length);
    commandAt = parsed.loadCommandsEnd;
    data.writeUInt32LE(header.ncmds + 1, 16);
    data.writeUInt32LE(header.sizeofcmds + 16, 20);
    data.writeUInt32LE(LC_CODE_SIGNATURE, commandAt);
    data.writeUInt32LE(16, commandAt + 4);
  }
  if (sigOff > 0xffffffff) throw new Error('Mach-O: file too large to sign');

  const size = signatureSize(sigOff, identifier);
  data.writeUInt32LE(sigOff, commandAt + 8);
  data.writeUInt32LE(size, commandAt + 12);
  const linkeditFilesize = sigOff + size - linkedit.fileoff;
  const align = segmentAlignment(header.cputype);
  const linkeditVmsize = vmsizeMode === 'filesize' ? linkeditFilesize : Math.ceil(linkeditFilesize / align) * align;
  data.writeBigUInt64LE(BigInt(linkeditVmsize), linkedit.cmdAt + 32);
  data.writeBigUInt64LE(BigInt(linkeditFilesize), linkedit.cmdAt + 48);

  // The signature itself. Headers above are final, so the page hashes cover them.
  const sig = Buffer.alloc(size);
  const nPages = Math.ceil(sigOff / PAGE_SIZE);
  const identOffset = CODE_DIRECTORY_SIZE;
  const hashOffset = identOffset + Buffer.byteLength(identifier) + 1;
  let p = 0;
  sig.writeUInt32BE(CSMAGIC_EMBEDDED_SIGNATURE, p);
  sig.writeUInt32BE(size, p + 4);
  sig.writeUInt32BE(1, p + 8);
  p += SUPER_BLOB_SIZE;
  sig.writeUInt32BE(CSSLOT_CODEDIRECTORY, p);
  sig.writeUInt32BE(SUPER_BLOB_SIZE + BLOB_INDEX_SIZE, p + 4);
  p += BLOB_INDEX_SIZE;
  const cd = p;
  sig.writeUInt32BE(CSMAGIC_CODEDIRECTORY, cd);
  sig.writeUInt32BE(size - (SUPER_BLOB_SIZE + BLOB_INDEX_SIZE), cd + 4);
  sig.writeUInt32BE(0x20400, cd + 8); // version
  sig.writeUInt32BE(CS_ADHOC | CS_LINKER_SIGNED, cd + 12);
  sig.writeUInt32BE(hashOffset, cd + 16);
  sig.writeUInt32BE(identOffset, cd + 20);
  sig.writeUInt32BE(0, cd + 24); // nSpecialSlots
  sig.writeUInt32BE(nPages, cd + 28);
  sig.writeUInt32BE(sigOff, cd + 32); // codeLimit
  sig[cd + 36] = SHA256_SIZE;
  sig[cd + 37] = CS_HASHTYPE_SHA256;
  sig[cd + 38] = 0;
  sig[cd + 39] = PAGE_SIZE_BITS;
  // +40 spare2, +44 scatterOffset, +48 teamOffset, +52 spare3, +56 codeLimit64: all 0
  sig.writeBigUInt64BE(BigInt(text.fileoff), cd + 64); // execSegBase
  sig.writeBigUInt64BE(BigInt(text.filesize), cd + 72); // execSegLimit
  sig.writeBigUInt64BE(BigInt(header.filetype === MH_EXECUTE ? CS_EXECSEG_MAIN_BINARY : 0), cd + 80);
  sig.write(`${identifier}\0`, cd + identOffset, 'utf8');
  for (let page = 0; page < nPages; page++) {
    const start = page * PAGE_SIZE;
    const digest = createHash('sha256').update(data.subarray(start, Math.min(start + PAGE_SIZE, sigOff))).digest();
    digest.copy(sig, cd + hashOffset + page * SHA256_SIZE);
  }
  return Buffer.concat([data, sig]);
}

function hashOf(type, data) {
  if (type === CS_HASHTYPE_SHA256) return createHash('sha256').update(data).digest();
  if (type === CS_HASHTYPE_SHA1) return createHash('sha1').update(data).digest();
  throw new Error(`unsupported hash type ${type}`);
}

function readCodeDirectory(blob) {
  const version = blob.readUInt32BE(8);
  const cd = {
    version,
    flags: blob.readUInt32BE(12),
    hashOffset: blob.readUInt32BE(16),
    identOffset: blob.readUInt32BE(20),
    nSpecialSlots: blob.readUInt32BE(24),
    nCodeSlots: blob.readUInt32BE(28),
    codeLimit: blob.readUInt32BE(32),
    hashSize: blob[36],
    hashType: blob[37],
    pageSizeBits: blob[39],
    execSegBase: undefined,
    execSegLimit: undefined,
    execSegFlags: undefined,
  };
  if (version >= 0x20300 && cd.codeLimit === 0) cd.codeLimit = Number(blob.readBigUInt64BE(56));
  if (version >= 0x20400) {
    cd.execSegBase = Number(blob.readBigUInt64BE(64));
    cd.execSegLimit = Number(blob.readBigUInt64BE(72));
    cd.execSegFlags = Number(blob.readBigUInt64BE(80));
  }
  const identEnd = blob.indexOf(0, cd.identOffset);
  cd.identifier = blob.toString('utf8', cd.identOffset, identEnd);
  return cd;
}

/**
 * Verifies the embedded code signature of a 64-bit Mach-O: structure (LC_CODE_SIGNATURE inside
 * __LINKEDIT, nothing after it), and every code page hash and special-slot hash of every
 * CodeDirectory. Works for ad-hoc signatures and for Apple-signed binaries (the CMS signature of the
 * latter is not checked). Returns { ok, errors, adhoc, codeDirectories, ... }; never throws on a
 * bad signature, only on a file that is not a Mach-O.
 */
export function verifyMachOSignature(buf) {
  const parsed = parseMachO(buf);
  const errors = [];
  const result = { ok: false, errors, signed: false, adhoc: false, cputype: parsed.header.cputype, codeDirectories: [], pagesChecked: 0 };
  const sigCmd = parsed.codeSignature;
  if (!sigCmd) {
    errors.push('no LC_CODE_SIGNATURE load command');
    return result;
  }
  result.signed = true;
  const { dataoff, datasize } = sigCmd;
  if (dataoff % 16 !== 0) errors.push(`signature offset ${dataoff} is not 16-byte aligned`);
  if (dataoff + datasize !== buf.length) errors.push(`${buf.length - (dataoff + datasize)} bytes after the code signature (or it runs past the end)`);
  const linkedit = parsed.segments.find((segment) => segment.name === '__LINKEDIT');
  if (!linkedit) errors.push('no __LINKEDIT segment');
  else {
    if (dataoff < linkedit.fileoff || dataoff + datasize > linkedit.fileoff + linkedit.filesize) errors.push('the code signature is not inside __LINKEDIT');
    if (linkedit.vmsize < linkedit.filesize) errors.push('__LINKEDIT vmsize is smaller than its filesize');
  }
  if (dataoff + datasize > buf.length || datasize < SUPER_BLOB_SIZE) {
    errors.push('the code signature lies outside the file');
    return result;
  }
  const sig = buf.subarray(dataoff, dataoff + datasize);
  if (sig.readUInt32BE(0) !== CSMAGIC_EMBEDDED_SIGNATURE) {
    errors.push(`bad SuperBlob magic 0x${sig.readUInt32BE(0).toString(16)}`);
    return result;
  }
  const superLength = sig.readUInt32BE(4);
  const count = sig.readUInt32BE(8);
  if (superLength > datasize) errors.push(`SuperBlob length ${superLength} exceeds LC_CODE_SIGNATURE datasize ${datasize}`);
  const blobs = new Map();
  for (let i = 0; i < count; i++) {
    const type = sig.readUInt32BE(SUPER_BLOB_SIZE + i * BLOB_INDEX_SIZE);
    const offset = sig.readUInt32BE(SUPER_BLOB_SIZE + i * BLOB_INDEX_SIZE + 4);
    if (offset + 8 > superLength) {
      errors.push(`blob ${type} at ${offset} lies outside the SuperBlob`);
      continue;
    }
    const length = sig.readUInt32BE(offset + 4);
    blobs.set(type, sig.subarray(offset, offset + length));
  }
  const cdSlots = [...blobs.keys()].filter((type) => type === CSSLOT_CODEDIRECTORY || (type >= CSSLOT_ALTERNATE_CODEDIRECTORIES && type < CSSLOT_ALTERNATE_CODEDIRECTORIES + 5));
  if (!cdSlots.includes(CSSLOT_CODEDIRECTORY)) errors.push('no CodeDirectory');
  for (const slot of cdSlots) {
    const blob = blobs.get(slot);
    if (blob.readUInt32BE(0) !== CSMAGIC_CODEDIRECTORY) {
      errors.push(`slot ${slot}: not a CodeDirectory`);
      continue;
    }
    const cd = readCodeDirectory(blob);
    result.codeDirectories.push(cd);
    const pageSize = cd.pageSizeBits ? 1 << cd.pageSizeBits : cd.codeLimit;
    if (cd.codeLimit !== dataoff) errors.push(`CodeDirectory ${slot}: codeLimit ${cd.codeLimit} != signature offset ${dataoff}`);
    const expectedSlots = Math.ceil(cd.codeLimit / pageSize);
    if (cd.nCodeSlots !== expectedSlots) errors.push(`CodeDirectory ${slot}: ${cd.nCodeSlots} code slots, expected ${expectedSlots}`);
    let bad = 0;
    for (let page = 0; page < cd.nCodeSlots; page++) {
      const start = page * pageSize;
      const actual = hashOf(cd.hashType, buf.subarray(start, Math.min(start + pageSize, cd.codeLimit)));
      const stored = blob.subarray(cd.hashOffset + page * cd.hashSize, cd.hashOffset + (page + 1) * cd.hashSize);
      if (!actual.subarray(0, cd.hashSize).equals(stored)) bad++;
    }
    result.pagesChecked += cd.nCodeSlots;
    if (bad) errors.push(`CodeDirectory ${slot}: ${bad} of ${cd.nCodeSlots} page hashes do not match`);
    for (let special = 1; special <= cd.nSpecialSlots; special++) {
      const stored = blob.subarray(cd.hashOffset - special * cd.hashSize, cd.hashOffset - (special - 1) * cd.hashSize);
      const target = blobs.get(special);
      if (stored.every((byte) => byte === 0)) continue;
      if (!target) {
        errors.push(`CodeDirectory ${slot}: special slot ${special} has a hash but no blob`);
      } else if (!hashOf(cd.hashType, target).subarray(0, cd.hashSize).equals(stored)) {
        errors.push(`CodeDirectory ${slot}: special slot ${special} hash does not match`);
      }
    }
    if (slot === CSSLOT_CODEDIRECTORY) {
      result.adhoc = (cd.flags & CS_ADHOC) !== 0;
      result.identifier = cd.identifier;
      const text = parsed.segments.find((segment) => segment.name === '__TEXT');
      if (cd.version >= 0x20400 && text && (cd.execSegBase !== text.fileoff || cd.execSegLimit !== text.filesize)) {
        errors.push(`CodeDirectory: execSeg ${cd.execSegBase}+${cd.execSegLimit} is not __TEXT ${text.fileoff}+${text.filesize}`);
      }
    }
  }
  result.ok = errors.length === 0;
  return result;
}
