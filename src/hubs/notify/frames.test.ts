import assert from 'node:assert/strict';
import { test } from 'node:test';
import { notificationFrame, pingFrame } from './frames.ts';

test("notification frames are seed 000's data object plus a real id, byte for byte", () => {
  assert.equal(notificationFrame(12, JSON.stringify('hi')), 'id: 12\ndata: {"id":"12","payload":"hi","read":false}\n\n');
  assert.equal(
    notificationFrame(7, JSON.stringify({ order: 1, text: 'line1\nline2' })),
    'id: 7\ndata: {"id":"7","payload":{"order":1,"text":"line1\\nline2"},"read":false}\n\n',
  );
});

test('the data line parses back to what the seed client reads', () => {
  const frame = notificationFrame(3, JSON.stringify('x'));
  const data = frame.split('\n').find((line) => line.startsWith('data: '))!.slice(6);
  assert.deepEqual(JSON.parse(data), { id: '3', payload: 'x', read: false });
});

test('the ping frame has no id, so it does not move Last-Event-ID', () => {
  assert.equal(pingFrame, 'data: {"id":"","payload":"ping","read":false}\n\n');
});
