import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createLogger } from '../log.ts';
import { LocalBus } from './bus.ts';

describe('local bus', () => {
  test('delivers to every subscriber of the channel, in order, until unsubscribed', () => {
    const bus = new LocalBus(createLogger({ write: () => {} }));
    const got: string[] = [];
    const off = bus.subscribe('room:1', (payload) => got.push(`a:${String(payload)}`));
    bus.subscribe('room:1', (payload) => got.push(`b:${String(payload)}`));
    bus.subscribe('room:2', (payload) => got.push(`c:${String(payload)}`));
    bus.publish('room:1', 'x');
    off();
    bus.publish('room:1', 'y');
    assert.deepEqual(got, ['a:x', 'b:x', 'b:y']);
  });

  test('a throwing subscriber does not stop the others, and is logged', () => {
    const lines: string[] = [];
    const bus = new LocalBus(createLogger({ format: 'json', write: (line) => lines.push(line) }));
    const got: unknown[] = [];
    bus.subscribe('c', () => {
      throw new Error('boom');
    });
    bus.subscribe('c', (payload) => got.push(payload));
    bus.publish('c', 1);
    assert.deepEqual(got, [1]);
    assert.match(lines[0] ?? '', /"event":"bus.handler_failed".*boom/);
  });
});
