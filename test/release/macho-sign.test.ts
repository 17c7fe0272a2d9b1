// The pure-JS ad-hoc signer: the Go linker's layout, every page hash right, nothing after the
// signature, and a verifier that notices tampering. (test:release also checks it byte for byte
// against the Go linker's own signer, and against Apple's signatures on the real node binaries.)
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { adhocSign, headerPadding, parseMachO, signatureSize, verifyMachOSignature } from '../../scripts/release/macho-sign.mjs';

const ARM64 = 0x0100000c;
const X86_64 = 0x01000007;

function bytes(n: number, seed: number): Buffer {
  const out = Buffer.alloc(n);
  let block = Buffer.from(`seed${seed}`);
  for (let i = 0; i < n; i += 32) {
    block = createHash('sha256').update(block).digest();
    block.copy(out, i);
  }
  return out;
}

function segment(name: string, vmaddr: number, vmsize: number, fileoff: number, filesize: number, sections: { name: string; offset: number; size: number }[] = []): Buffer {
  const cmd = Buffer.alloc(72 + sections.length * 80);
  cmd.writeUInt32LE(0x19, 0);
  cmd.writeUInt32LE(cmd.length, 4);
  cmd.write(name, 8, 16, 'latin1');
  cmd.writeBigUInt64LE(BigInt(vmaddr), 24);
  cmd.writeBigUInt64LE(BigInt(vmsize), 32);
  cmd.writeBigUInt64LE(BigInt(fileoff), 40);
  cmd.writeBigUInt64LE(BigInt(filesize), 48);
  cmd.writeUInt32LE(sections.length, 64);
  sections.forEach((section, i) => {
    const at = 72 + i * 80;
    cmd.write(section.name, at, 16, 'latin1');
    cmd.write(name, at + 16, 16, 'latin1');
    cmd.writeBigUInt64LE(BigInt(vmaddr + section.offset), at + 32);
    cmd.writeBigUInt64LE(BigInt(section.size), at + 40);
    cmd.writeUInt32LE(section.offset, at + 48);
  });
  return cmd;
}

/** A small but well-formed executable: __PAGEZERO, __TEXT (one section at `textSectionAt`), __LINKEDIT. */
function makeMachO({ cputype = ARM64, linkeditSize = 0x1235, textSectionAt = 0x1000 } = {}): Buffer {
  const textSize = 0x4000;
  const commands = Buffer.concat([
    segment('__PAGEZERO', 0, 0x100000000, 0, 0),
    segment('__TEXT', 0x100000000, textSize, 0, textSize, [{ name: '__text', offset: textSectionAt, size: textSize - textSectionAt }]),
    segment('__LINKEDIT', 0x100000000 + textSize, 0x4000, textSize, linkeditSize),
  ]);
  const header = Buffer.alloc(32);
  header.writeUInt32LE(0xfeedfacf, 0);
  header.writeUInt32LE(cputype, 4);
  header.writeUInt32LE(2, 12); // MH_EXECUTE
  header.writeUInt32LE(3, 16);
  header.writeUInt32LE(commands.length, 20);
  const file = Buffer.concat([header, commands, bytes(textSize + linkeditSize - 32 - commands.length, cputype)]);
  // keep the header padding zero, as linkers leave it
  file.fill(0, 32 + commands.length, textSectionAt);
  return file;
}

/** Reads the CodeDirectory straight from the bytes (not through the verifier). */
function readSignature(file: Buffer) {
  const { codeSignature } = parseMachO(file);
  assert.ok(codeSignature);
  const sig = file.subarray(codeSignature.dataoff, codeSignature.dataoff + codeSignature.datasize);
  const cd = sig.subarray(sig.readUInt32BE(16));
  return {
    codeSignature,
    superMagic: sig.readUInt32BE(0),
    superLength: sig.readUInt32BE(4),
    count: sig.readUInt32BE(8),
    slot: sig.readUInt32BE(12),
    magic: cd.readUInt32BE(0),
    length: cd.readUInt32BE(4),
    version: cd.readUInt32BE(8),
    flags: cd.readUInt32BE(12),
    hashOffset: cd.readUInt32BE(16),
    identOffset: cd.readUInt32BE(20),
    nSpecialSlots: cd.readUInt32BE(24),
    nCodeSlots: cd.readUInt32BE(28),
    codeLimit: cd.readUInt32BE(32),
    hashSize: cd[36],
    hashType: cd[37],
    pageSize: cd[39],
    execSegBase: Number(cd.readBigUInt64BE(64)),
    execSegLimit: Number(cd.readBigUInt64BE(72)),
    execSegFlags: Number(cd.readBigUInt64BE(80)),
    identifier: cd.toString('utf8', cd.readUInt32BE(20), cd.indexOf(0, cd.readUInt32BE(20))),
    hash: (i: number) => cd.subarray(cd.readUInt32BE(16) + i * 32, cd.readUInt32BE(16) + (i + 1) * 32),
  };
}

describe('adhocSign', () => {
  it('adds LC_CODE_SIGNATURE and a Go-layout CodeDirectory at the 16-aligned end of __LINKEDIT', () => {
    const input = makeMachO();
    const out = adhocSign(input, { identifier: 'flashhub' });
    const sigOff = Math.ceil(input.length / 16) * 16;
    const size = signatureSize(sigOff, 'flashhub');
    assert.equal(out.length, sigOff + size);
    assert.ok(out.subarray(0x1000, input.length).equals(input.subarray(0x1000)), 'code after the header is unchanged');

    const parsed = parseMachO(out);
    assert.equal(parsed.header.ncmds, 4);
    assert.deepEqual(parsed.codeSignature, { cmdAt: 32 + 72 + 152 + 72, dataoff: sigOff, datasize: size });
    const linkedit = parsed.segments.find((s) => s.name === '__LINKEDIT')!;
    assert.equal(linkedit.fileoff + linkedit.filesize, out.length);
    assert.equal(linkedit.vmsize, Math.ceil(linkedit.filesize / 0x4000) * 0x4000);

    const sig = readSignature(out);
    assert.equal(sig.superMagic, 0xfade0cc0);
    assert.equal(sig.superLength, size);
    assert.equal(sig.count, 1);
    assert.equal(sig.slot, 0);
    assert.equal(sig.magic, 0xfade0c02);
    assert.equal(sig.length, size - 20);
    assert.equal(sig.version, 0x20400);
    assert.equal(sig.flags, 0x20002); // adhoc | linker-signed
    assert.equal(sig.identOffset, 88);
    assert.equal(sig.identifier, 'flashhub');
    assert.equal(sig.hashOffset, 88 + 'flashhub'.length + 1);
    assert.equal(sig.nSpecialSlots, 0);
    assert.equal(sig.codeLimit, sigOff);
    assert.equal(sig.nCodeSlots, Math.ceil(sigOff / 4096));
    assert.deepEqual([sig.hashSize, sig.hashType, sig.pageSize], [32, 2, 12]);
    assert.deepEqual([sig.execSegBase, sig.execSegLimit, sig.execSegFlags], [0, 0x4000, 1]);
    for (let i = 0; i < sig.nCodeSlots; i++) {
      const page = out.subarray(i * 4096, Math.min((i + 1) * 4096, sigOff));
      assert.ok(sig.hash(i).equals(createHash('sha256').update(page).digest()), `page ${i}`);
    }
  });

  it('passes its verifier, and the verifier notices changed code and trailing bytes', () => {
    const out = adhocSign(makeMachO(), { identifier: 'flashhub' });
    const report = verifyMachOSignature(out);
    assert.deepEqual(report.errors, []);
    assert.ok(report.ok && report.adhoc);
    assert.equal(report.identifier, 'flashhub');

    const tampered = Buffer.from(out);
    tampered[0x2345] = tampered[0x2345]! ^ 0xff;
    const bad = verifyMachOSignature(tampered);
    assert.equal(bad.ok, false);
    assert.match(bad.errors.join('\n'), /1 of \d+ page hashes do not match/);

    const longer = Buffer.concat([out, Buffer.alloc(1)]);
    assert.match(verifyMachOSignature(longer).errors.join('\n'), /1 bytes after the code signature/);
  });

  it('re-signing replaces the signature in place (idempotent; another identifier resizes it)', () => {
    const once = adhocSign(makeMachO(), { identifier: 'flashhub' });
    assert.ok(adhocSign(once, { identifier: 'flashhub' }).equals(once));
    const renamed = adhocSign(once, { identifier: 'a-much-longer-identifier' });
    assert.equal(parseMachO(renamed).header.ncmds, 4);
    assert.equal(renamed.length, parseMachO(once).codeSignature!.dataoff + signatureSize(parseMachO(once).codeSignature!.dataoff, 'a-much-longer-identifier'));
    assert.ok(verifyMachOSignature(renamed).ok);
  });

  it('uses vmsize = filesize on request (the Go linker) and 4 KiB rounding on x86_64', () => {
    const go = parseMachO(adhocSign(makeMachO(), { linkeditVmsize: 'filesize' })).segments.find((s) => s.name === '__LINKEDIT')!;
    assert.equal(go.vmsize, go.filesize);
    const x64 = parseMachO(adhocSign(makeMachO({ cputype: X86_64 }))).segments.find((s) => s.name === '__LINKEDIT')!;
    assert.equal(x64.vmsize, Math.ceil(x64.filesize / 0x1000) * 0x1000);
    assert.ok(verifyMachOSignature(adhocSign(makeMachO({ cputype: X86_64 }))).ok);
  });

  it('hashes a last partial page only up to the signature', () => {
    const input = makeMachO({ linkeditSize: 0x1000 + 16 }); // ends 16 bytes into a page, already aligned
    const out = adhocSign(input);
    const sig = readSignature(out);
    assert.equal(sig.codeLimit, input.length);
    const last = sig.nCodeSlots - 1;
    assert.ok(sig.hash(last).equals(createHash('sha256').update(out.subarray(last * 4096, input.length)).digest()));
  });

  it('refuses what it cannot sign safely', () => {
    assert.throws(() => adhocSign(Buffer.from('not a mach-o file at all, just text')), /not a 64-bit little-endian Mach-O/);
    const tight = makeMachO({ textSectionAt: 32 + 72 + 152 + 72 + 8 });
    assert.equal(headerPadding(tight), 8);
    assert.throws(() => adhocSign(tight), /no room in the header padding/);
    assert.throws(() => adhocSign(Buffer.concat([makeMachO(), Buffer.alloc(3)])), /__LINKEDIT ends at/);
    const signed = adhocSign(makeMachO());
    assert.throws(() => adhocSign(Buffer.concat([signed, Buffer.alloc(3)])), /unexpected content after the code signature/);
    const fat = Buffer.alloc(64);
    fat.writeUInt32BE(0xcafebabe, 0);
    assert.throws(() => adhocSign(fat), /fat \(universal\)/);
  });

  it('reports an unsigned file as unsigned', () => {
    const report = verifyMachOSignature(makeMachO());
    assert.equal(report.ok, false);
    assert.equal(report.signed, false);
    assert.deepEqual(report.errors, ['no LC_CODE_SIGNATURE load command']);
  });
});
