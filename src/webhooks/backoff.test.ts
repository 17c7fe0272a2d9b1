import assert from 'node:assert/strict';
import { test } from 'node:test';
import { maxAttempts, maxRetryAfterMs, retryAfterMs, retryDelay } from './backoff.ts';

test('waits double from the base up to 60 times it, with up to half again of jitter', () => {
  const waits = Array.from({ length: maxAttempts - 1 }, (_, i) => retryDelay(i + 1, 1000, () => 0));
  assert.deepEqual(waits, [1000, 2000, 4000, 8000, 16_000, 32_000, 60_000]);
  assert.equal(retryDelay(3, 1000, () => 1), 6000);
  const longest = Array.from({ length: maxAttempts - 1 }, (_, i) => retryDelay(i + 1, 1000, () => 1)).reduce((a, b) => a + b);
  assert.ok(longest <= 4 * 60_000, `all waits add up to ${longest} ms`);
});

test('Retry-After: seconds or an HTTP date, capped; anything else is ignored', () => {
  const now = Date.parse('2026-03-01T12:00:00Z');
  assert.equal(retryAfterMs('7', now), 7000);
  assert.equal(retryAfterMs(new Date(now + 30_000).toUTCString(), now), 30_000);
  assert.equal(retryAfterMs(new Date(now - 30_000).toUTCString(), now), 0);
  assert.equal(retryAfterMs('86400', now), maxRetryAfterMs);
  assert.equal(retryAfterMs(null, now), undefined);
  assert.equal(retryAfterMs('soon', now), undefined);
  assert.equal(retryAfterMs('-5', now), undefined);
});
