import assert from 'node:assert/strict';
import { test } from 'node:test';
import { characterCount, longerThan } from './text-length.ts';

test('characters are code points', () => {
  assert.equal(characterCount(''), 0);
  assert.equal(characterCount('abc'), 3);
  assert.equal(characterCount('Zoë'), 3);
  assert.equal(characterCount('😀😀'), 2, 'an emoji is two UTF-16 units but one character');
  assert.equal(characterCount('\ud83d'), 1, 'a lone surrogate still counts once');
});

test('longerThan: exactly at the limit is within it', () => {
  assert.equal(longerThan('x'.repeat(5), 5), false);
  assert.equal(longerThan('x'.repeat(6), 5), true);
  assert.equal(longerThan('😀'.repeat(5), 5), false, '10 units, 5 characters');
  assert.equal(longerThan('😀'.repeat(6), 5), true);
});
