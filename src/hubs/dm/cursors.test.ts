import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Cursor } from './cursors.ts';

describe('dm delivery cursor', () => {
  test('moves only over contiguous ids; ids received early wait above it', () => {
    const cursor = new Cursor();
    assert.equal(cursor.mark(1), true);
    assert.equal(cursor.mark(3), false, '2 is still missing');
    assert.equal(cursor.value, 1);
    assert.equal(cursor.seen(3), true);
    assert.equal(cursor.seen(2), false);
    assert.equal(cursor.mark(2), true);
    assert.equal(cursor.value, 3, '2 closes the hole, 3 follows');
    assert.equal(cursor.mark(2), false, 'old ids change nothing');
  });

  test('raiseTo jumps a reported gap and picks up what waited above it', () => {
    const cursor = new Cursor(5);
    cursor.mark(101);
    cursor.mark(50);
    assert.equal(cursor.raiseTo(99), true);
    assert.equal(cursor.value, 99, '100 is still missing');
    assert.equal(cursor.raiseTo(100), true);
    assert.equal(cursor.value, 101, '101 waited above');
    assert.equal(cursor.seen(50), true);
    assert.equal(cursor.raiseTo(10), false);
  });
});
