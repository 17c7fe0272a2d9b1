import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, mock, test } from 'node:test';
import { OfflineDebouncer } from './offline-debounce.ts';

describe('OfflineDebouncer', () => {
  let said: string[];
  let online: Set<number>;
  let debouncer: OfflineDebouncer;

  const clock = mock.timers;
  afterEach(() => clock.reset());
  beforeEach(() => {
    clock.enable({ apis: ['setTimeout', 'Date'] });
    said = [];
    online = new Set();
    debouncer = new OfflineDebouncer(5000, (user, isOnline, at) => said.push(`${user} ${isOnline ? 'online' : 'offline'} @${at}`), (user) => online.has(user));
  });

  test('online at once; offline only after the delay, with the time the user left', () => {
    debouncer.change(1, true, 'local');
    assert.deepEqual(said, ['1 online @0']);
    clock.tick(1000);
    debouncer.change(1, false, 'local');
    clock.tick(4999);
    assert.deepEqual(said, ['1 online @0']);
    clock.tick(1);
    assert.deepEqual(said, ['1 online @0', '1 offline @1000']);
  });

  test('back within the delay: nothing at all', () => {
    debouncer.change(1, true, 'local');
    debouncer.change(1, false, 'local');
    clock.tick(4000);
    debouncer.change(1, true, 'local');
    clock.tick(60_000);
    assert.deepEqual(said, ['1 online @0']);
  });

  test("another node's changes are that node's to announce", () => {
    debouncer.change(2, true, 'remote');
    debouncer.change(2, false, 'remote');
    clock.tick(60_000);
    assert.deepEqual(said, []);
  });

  test('gone on another node, back on this one within the delay: nothing', () => {
    debouncer.change(3, false, 'remote');
    clock.tick(3000);
    debouncer.change(3, true, 'local');
    clock.tick(60_000);
    assert.deepEqual(said, []);
  });

  test('no offline for a user online again by a change this node missed', () => {
    debouncer.change(4, false, 'local');
    online.add(4);
    clock.tick(5000);
    assert.deepEqual(said, []);
  });

  test('a delay of 0 announces the offline at once', () => {
    const now = new OfflineDebouncer(0, (user, isOnline) => said.push(`${user} ${isOnline}`), () => false);
    now.change(5, false, 'local');
    assert.deepEqual(said, ['5 false']);
  });

  test('flush announces the waiting offlines at once; the other nodes then announce returns', () => {
    debouncer.change(6, false, 'local');
    debouncer.change(7, false, 'remote');
    assert.deepEqual(debouncer.flush(), [6]);
    assert.deepEqual(said, ['6 offline @0']);
    clock.tick(60_000);
    assert.equal(said.length, 1, 'nothing left waiting');

    // On another node: user 6 had left there (a note) and is back; user 8 never left it.
    const other = new OfflineDebouncer(5000, (user, isOnline) => said.push(`${user} ${isOnline ? 'online' : 'offline'} elsewhere`), () => true);
    other.change(6, false, 'remote');
    other.change(6, true, 'local');
    other.announcedElsewhere([6, 8, 9], (user) => user !== 9);
    assert.deepEqual(said.slice(1), ['6 online elsewhere', '8 online elsewhere']);
  });
});
