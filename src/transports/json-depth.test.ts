import assert from 'node:assert/strict';
import { test } from 'node:test';
import { deeperThan, maxJsonDepth } from './json-depth.ts';

const nested = (levels: number): unknown => JSON.parse('['.repeat(levels) + ']'.repeat(levels));

test('values up to the limit pass, one level more does not, and huge depths are no stack overflow', () => {
  assert.equal(deeperThan(nested(maxJsonDepth)), false);
  assert.equal(deeperThan(nested(maxJsonDepth + 1)), true);
  assert.equal(deeperThan(nested(100_000)), true);
  // levels: the object 1, a's value 2, b's array 3, the object in it 4
  assert.equal(deeperThan({ a: { b: [1, 'x'] } }, 3), false);
  assert.equal(deeperThan({ a: { b: [1, { c: 'x' }] } }, 3), true);
  for (const flat of [null, 1, 'text', true, [], {}]) assert.equal(deeperThan(flat), false);
});
