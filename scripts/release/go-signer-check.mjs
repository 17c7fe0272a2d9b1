// Cross-check of macho-sign.mjs against the Go linker, whose ad-hoc signatures run on every Mac
// (used by scripts/test-release.mjs when Debian's golang-go is installed).
// Go signs darwin executables itself (internal linking, identifier "a.out", __LINKEDIT vmsize =
// filesize). For a Go-built file:
//   1. our verifier accepts Go's signature;
//   2. re-signing it (replace path) gives the identical bytes;
//   3. removing the signature (LC_CODE_SIGNATURE, the blob, __LINKEDIT growth) and signing the
//      unsigned file (add path, the one the release build uses) gives the identical bytes.
import { adhocSign, parseMachO, verifyMachOSignature } from './macho-sign.mjs';

/** The file as it was before Go signed it: no LC_CODE_SIGNATURE, cut at the signature. */
export function removeSignature(buf) {
  const parsed = parseMachO(buf);
  const sig = parsed.codeSignature;
  if (!sig) throw new Error('not signed');
  if (sig.cmdAt + 16 !== parsed.loadCommandsEnd) throw new Error('LC_CODE_SIGNATURE is not the last load command');
  const out = Buffer.from(buf.subarray(0, sig.dataoff));
  out.fill(0, sig.cmdAt, sig.cmdAt + 16);
  out.writeUInt32LE(parsed.header.ncmds - 1, 16);
  out.writeUInt32LE(parsed.header.sizeofcmds - 16, 20);
  const linkedit = parsed.segments.find((s) => s.name === '__LINKEDIT');
  const filesize = sig.dataoff - linkedit.fileoff;
  out.writeBigUInt64LE(BigInt(filesize), linkedit.cmdAt + 48);
  out.writeBigUInt64LE(BigInt(filesize), linkedit.cmdAt + 32);
  return out;
}

/** Returns { verified, resignIdentical, addIdentical, errors } for one Go-signed executable. */
export function compareWithGo(goSigned) {
  const report = verifyMachOSignature(goSigned);
  const options = { identifier: 'a.out', linkeditVmsize: 'filesize' };
  const resigned = adhocSign(goSigned, options);
  const added = adhocSign(removeSignature(goSigned), options);
  return {
    verified: report.ok && report.adhoc,
    errors: report.errors,
    pages: report.pagesChecked,
    resignIdentical: resigned.equals(goSigned),
    addIdentical: added.equals(goSigned),
  };
}
