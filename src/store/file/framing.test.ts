import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeFrame, encodeFrame, scanFrames, type DecodedFrame } from './framing.ts';

test('a frame is "<crc hex8> <json>\\n" and decodes back', () => {
  const json = JSON.stringify({ t: 'm', text: 'héllo\nworld' });
  const buf = encodeFrame(json);
  const line = buf.toString('utf8');
  assert.match(line, /^[0-9a-f]{8} \{.*\}\n$/);
  assert.equal(line.split('\n').length, 2, 'exactly one newline: the terminator');
  const f = decodeFrame(buf);
  assert.notEqual(typeof f, 'string');
  assert.deepEqual((f as DecodedFrame).value, { t: 'm', text: 'héllo\nworld' });
});

test('a flipped byte fails the CRC, a cut frame is partial, NULs are zeros', () => {
  const buf = encodeFrame('{"a":1}');
  const flipped = Buffer.from(buf);
  flipped[12] = (flipped[12] as number) ^ 1;
  assert.equal(decodeFrame(flipped), 'crc');
  assert.equal(decodeFrame(buf.subarray(0, buf.length - 2)), 'partial');
  assert.equal(decodeFrame(Buffer.alloc(20)), 'zeros');
  const badHex = Buffer.from(buf);
  badHex[0] = 0x7a; // 'z'
  assert.equal(decodeFrame(badHex), 'format');
});

test('scanFrames stops at the first bad frame and reports where', () => {
  const a = encodeFrame('{"n":1}');
  const b = encodeFrame('{"n":2}');
  const torn = encodeFrame('{"n":3}').subarray(0, 6);
  const all = Buffer.concat([a, b, torn, Buffer.alloc(4096)]);
  const seen: number[] = [];
  const stop = scanFrames(all, 0, true, (f) => seen.push((f.value as { n: number }).n));
  assert.deepEqual(seen, [1, 2]);
  assert.equal(stop.end, a.length + b.length);
  assert.equal(stop.error, 'partial');

  const zeros = Buffer.concat([a, Buffer.alloc(100)]);
  assert.deepEqual(scanFrames(zeros, 0, true, () => {}), { end: a.length, error: 'zeros' });
  // Not the end of the file: a trailing partial line is just incomplete.
  assert.deepEqual(scanFrames(Buffer.concat([a, torn]), 0, false, () => {}), { end: a.length });
  // A valid JSON line with a wrong CRC in the middle stops the scan there.
  const bad = Buffer.from(b);
  bad[0] = bad[0] === 0x30 ? 0x31 : 0x30;
  const s2 = scanFrames(Buffer.concat([a, bad, a]), 0, true, () => {});
  assert.deepEqual(s2, { end: a.length, error: 'crc' });
});
