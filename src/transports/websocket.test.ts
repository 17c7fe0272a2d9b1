import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TokenBucket, tooManyMessages } from './websocket.ts';

test('a full bucket lets a burst through, then the rate', () => {
  let now = 1_000_000;
  const bucket = new TokenBucket(5, 10, () => now);
  for (let i = 0; i < 10; i++) assert.equal(bucket.take(), true, `burst frame ${i}`);
  assert.equal(bucket.take(), false, 'the 11th frame at once is over');
  now += 200; // one token a fifth of a second
  assert.equal(bucket.take(), true);
  assert.equal(bucket.take(), false);
  now += 100;
  assert.equal(bucket.take(), false, 'half a token is not a token');
  now += 100;
  assert.equal(bucket.take(), true);
});

test('a steady sender at the rate is never refused; idle time saves up at most the burst', () => {
  let now = 0;
  const bucket = new TokenBucket(50, 100, () => now);
  for (let i = 0; i < 1000; i++) {
    now += 20;
    assert.equal(bucket.take(), true, `frame ${i}`);
  }
  now += 60_000;
  let taken = 0;
  while (bucket.take()) taken++;
  assert.equal(taken, 100);
});

test('a clock that steps back takes nothing away', () => {
  let now = 10_000;
  const bucket = new TokenBucket(1, 2, () => now);
  assert.equal(bucket.take(), true);
  now -= 5_000;
  assert.equal(bucket.take(), true);
  assert.equal(bucket.take(), false);
});

test('the close reason names the rate and fits a close frame', () => {
  const reason = tooManyMessages(100_000);
  assert.equal(reason.code, 1008);
  assert.equal(reason.text, 'too many messages: more than 100000 per second');
  assert.ok(Buffer.byteLength(reason.text) <= 123);
});
