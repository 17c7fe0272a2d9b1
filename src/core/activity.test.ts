import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createLogger } from '../log.ts';
import { Activity, type ActivityEvent } from './activity.ts';

const relayed: ActivityEvent = { type: 'message.relayed', hub: 'presence', from: 1, to: 2, delivered: 1, time: 0 };

test('every listener hears each event; one that throws is logged and harms no other', () => {
  const lines: string[] = [];
  const activity = new Activity(createLogger({ format: 'json', write: (line) => lines.push(line) }));
  const heard: string[] = [];
  activity.on(() => {
    throw new Error('broken consumer');
  });
  const stop = activity.on((event) => heard.push(event.type));
  activity.emit(relayed);
  assert.deepEqual(heard, ['message.relayed']);
  assert.match(lines.join(''), /activity\.listener_failed.*broken consumer/);
  stop();
  activity.emit(relayed);
  assert.equal(heard.length, 1, 'unsubscribed');
});
