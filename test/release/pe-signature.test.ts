// Removing node.exe's Authenticode signature before injection (else postject leaves it corrupt).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parsePe, peChecksum, peSignatureInfo, stripPeSignature, updatePeChecksum } from '../../scripts/release/pe-signature.mjs';

/** A minimal PE32+ image (headers only, no sections) of `size` bytes, optionally "signed". */
function makePe(size = 5000, certSize = 0): Buffer {
  const body = Buffer.alloc(size);
  for (let i = 0x200; i < size; i++) body[i] = (i * 7 + 3) & 0xff;
  body.write('MZ', 0, 'latin1');
  body.writeUInt32LE(0x80, 0x3c);
  body.writeUInt32LE(0x00004550, 0x80); // "PE\0\0"
  body.writeUInt16LE(0x8664, 0x84); // machine: x64
  body.writeUInt16LE(112 + 16 * 8, 0x84 + 16); // SizeOfOptionalHeader
  const optional = 0x84 + 20;
  body.fill(0, optional, optional + 112 + 16 * 8);
  body.writeUInt16LE(0x20b, optional);
  body.writeUInt32LE(16, optional + 108); // NumberOfRvaAndSizes
  if (!certSize) {
    updatePeChecksum(body);
    return body;
  }
  const certAt = Math.ceil(size / 8) * 8;
  const cert = Buffer.alloc(certSize, 0xc5);
  cert.writeUInt32LE(certSize, 0); // WIN_CERTIFICATE.dwLength
  cert.writeUInt16LE(0x0200, 4);
  cert.writeUInt16LE(0x0002, 6);
  const signed = Buffer.concat([body, Buffer.alloc(certAt - size), cert]);
  signed.writeUInt32LE(certAt, optional + 112 + 4 * 8);
  signed.writeUInt32LE(certSize, optional + 112 + 4 * 8 + 4);
  updatePeChecksum(signed);
  return signed;
}

/** The checksum computed differently: add all 16-bit words, fold the carries at the end. */
function referenceChecksum(buf: Buffer, checksumAt: number): number {
  let sum = 0;
  for (let i = 0; i < buf.length; i += 2) {
    if (i === checksumAt || i === checksumAt + 2) continue;
    sum += i + 1 < buf.length ? buf.readUInt16LE(i) : buf[i]!;
  }
  while (sum > 0xffff) sum = (sum % 0x10000) + Math.floor(sum / 0x10000);
  return sum + buf.length;
}

describe('PE signature stripping', () => {
  it('cuts the certificate table, zeroes the security directory and fixes the checksum', () => {
    const signed = makePe(5001, 0x300);
    const before = peSignatureInfo(signed);
    assert.deepEqual([before.signed, before.certOffset, before.certSize, before.checksumValid], [true, 5008, 0x300, true]);
    const { data, removed, certSize } = stripPeSignature(signed);
    assert.equal(removed, true);
    assert.equal(certSize, 0x300);
    assert.equal(data.length, 5008);
    const after = peSignatureInfo(data);
    assert.deepEqual([after.signed, after.certOffset, after.certSize, after.checksumValid], [false, 0, 0, true]);
    assert.ok(data.subarray(0x200, 5001).equals(signed.subarray(0x200, 5001)), 'the image itself is unchanged');
    assert.ok(signed.length > data.length, 'the input is not modified');
  });

  it('leaves an unsigned image alone', () => {
    const unsigned = makePe();
    const result = stripPeSignature(unsigned);
    assert.equal(result.removed, false);
    assert.equal(result.data, unsigned);
  });

  it('refuses a certificate table that is not at the end of the file', () => {
    const signed = makePe(5000, 0x100);
    assert.throws(() => stripPeSignature(Buffer.concat([signed, Buffer.alloc(64, 1)])), /refusing to cut it/);
    const outside = Buffer.from(signed);
    outside.writeUInt32LE(outside.length + 8, parsePe(outside).securityAt!);
    assert.throws(() => stripPeSignature(outside), /lies outside the file/);
  });

  it('refuses a file that is not a PE image', () => {
    assert.throws(() => stripPeSignature(Buffer.alloc(100)), /no MZ header/);
    const noPe = makePe();
    noPe.writeUInt32LE(0, 0x80);
    assert.throws(() => stripPeSignature(noPe), /no PE signature/);
  });

  it('computes the standard image checksum (odd lengths too)', () => {
    for (const size of [4096, 4097, 70_001]) {
      const pe = makePe(size);
      const { checksumAt } = parsePe(pe);
      assert.equal(peChecksum(pe), referenceChecksum(pe, checksumAt));
    }
  });
});
