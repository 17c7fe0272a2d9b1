import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RateLimiter } from './rate-limiter.ts';

test('failures per key are limited within a window, then forgotten', () => {
  let now = 1_000_000;
  const limiter = new RateLimiter(2, 60_000, () => now);
  assert.equal(limiter.check('user:a', 'ip:1').ok, true);
  limiter.fail('user:a', 'ip:1');
  limiter.fail('user:a', 'ip:1');
  const refused = limiter.check('user:a', 'ip:2');
  assert.equal(refused.ok, false, 'user a is over the limit from any address');
  assert.ok(refused.retryAfter >= 1 && refused.retryAfter <= 60);
  assert.equal(limiter.check('user:b', 'ip:1').ok, false, 'address 1 is over the limit for any user');
  assert.equal(limiter.check('user:b', 'ip:2').ok, true);
  now += 60_000;
  assert.equal(limiter.check('user:a', 'ip:1').ok, true, 'a new window starts clean');
});

test('checking does not count', () => {
  const limiter = new RateLimiter(1, 60_000);
  for (let i = 0; i < 10; i++) assert.equal(limiter.check('k').ok, true);
});
