// Windows PE: removes the Authenticode signature (what `signtool remove /s` does) and keeps the
// optional header's CheckSum right.
//
// Why: node.exe from the OpenJS Foundation is signed. postject rewrites the file, after which the
// signature's certificate table points into the middle of the new file: a *corrupt* signature
// (`osslsigncode verify`: "Ignoring PE signature not at the end of the file"), worse than none for
// SmartScreen and antivirus heuristics. So the base is unsigned before injection (reference §5).
//
// Layout used: DOS header (e_lfanew at 0x3c) -> "PE\0\0" -> COFF header (20 bytes) -> optional
// header (magic 0x10b PE32 / 0x20b PE32+; CheckSum at +64) -> data directories (at +96 / +112),
// entry 4 = IMAGE_DIRECTORY_ENTRY_SECURITY, whose "VirtualAddress" is a *file offset*.

const SECURITY_DIRECTORY = 4;

/** Offsets of the fields this module reads or writes; throws on anything that is not a PE image. */
export function parsePe(buf) {
  if (buf.length < 0x40 || buf.readUInt16LE(0) !== 0x5a4d) throw new Error('not a PE file: no MZ header');
  const peAt = buf.readUInt32LE(0x3c);
  if (peAt + 24 > buf.length || buf.readUInt32LE(peAt) !== 0x00004550) throw new Error('not a PE file: no PE signature');
  const coff = peAt + 4;
  const optional = coff + 20;
  const sizeOfOptionalHeader = buf.readUInt16LE(coff + 16);
  const magic = buf.readUInt16LE(optional);
  let directories;
  let rvaCountAt;
  if (magic === 0x20b) {
    rvaCountAt = optional + 108;
    directories = optional + 112;
  } else if (magic === 0x10b) {
    rvaCountAt = optional + 92;
    directories = optional + 96;
  } else {
    throw new Error(`not a PE image: optional header magic 0x${magic.toString(16)}`);
  }
  const rvaCount = buf.readUInt32LE(rvaCountAt);
  if (directories + rvaCount * 8 > optional + sizeOfOptionalHeader) throw new Error('PE: data directories overflow the optional header');
  const securityAt = rvaCount > SECURITY_DIRECTORY ? directories + SECURITY_DIRECTORY * 8 : undefined;
  return {
    pe32plus: magic === 0x20b,
    checksumAt: optional + 64,
    securityAt,
    certOffset: securityAt === undefined ? 0 : buf.readUInt32LE(securityAt),
    certSize: securityAt === undefined ? 0 : buf.readUInt32LE(securityAt + 4),
  };
}

/** The PE image checksum (as imagehlp's CheckSumMappedFile computes it). */
export function peChecksum(buf, checksumAt = parsePe(buf).checksumAt) {
  let sum = 0;
  const even = buf.length & ~1;
  for (let i = 0; i < even; i += 2) {
    if (i === checksumAt || i === checksumAt + 2) continue;
    sum += buf[i] | (buf[i + 1] << 8);
    if (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  }
  if (buf.length & 1) {
    sum += buf[buf.length - 1];
    if (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  }
  sum = (sum & 0xffff) + (sum >>> 16);
  return (sum + buf.length) >>> 0;
}

/** Writes the correct CheckSum into `buf` (in place) and returns it. */
export function updatePeChecksum(buf) {
  const { checksumAt } = parsePe(buf);
  const checksum = peChecksum(buf, checksumAt);
  buf.writeUInt32LE(checksum, checksumAt);
  return checksum;
}

/** What a PE file says about its signature and checksum (for the verifier and the tests). */
export function peSignatureInfo(buf) {
  const info = parsePe(buf);
  return {
    signed: info.certSize > 0,
    certOffset: info.certOffset,
    certSize: info.certSize,
    checksum: buf.readUInt32LE(info.checksumAt),
    checksumValid: buf.readUInt32LE(info.checksumAt) === peChecksum(buf, info.checksumAt),
  };
}

/**
 * Returns { data, removed, certSize }: a copy of `buf` without its certificate table (cut from the
 * end of the file), the security directory zeroed and the checksum recomputed. An unsigned file
 * comes back unchanged (removed: false). A table that is not at the end of the file (allowing
 * the 8-byte alignment padding) is refused: cutting it out would lose the data after it.
 */
export function stripPeSignature(buf) {
  const info = parsePe(buf);
  if (info.certSize === 0 && info.certOffset === 0) return { data: buf, removed: false, certSize: 0 };
  const end = info.certOffset + info.certSize;
  if (info.certOffset === 0 || end > buf.length) {
    throw new Error(`PE: certificate table (offset ${info.certOffset}, size ${info.certSize}) lies outside the file (${buf.length} bytes)`);
  }
  if (buf.length - end >= 8 || buf.subarray(end).some((byte) => byte !== 0)) {
    throw new Error(`PE: certificate table ends at ${end}, but the file goes on to ${buf.length}; refusing to cut it`);
  }
  const data = Buffer.from(buf.subarray(0, info.certOffset));
  data.fill(0, info.securityAt, info.securityAt + 8);
  updatePeChecksum(data);
  return { data, removed: true, certSize: info.certSize };
}
