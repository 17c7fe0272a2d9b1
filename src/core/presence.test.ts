import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConnectionLimitError, Presence } from './presence.ts';
import { closeReasons, Session, type CloseReason, type Frame, type SessionSink } from './session.ts';

class RecordingSink implements SessionSink {
  frames: Frame[] = [];
  buffered = 0;
  closedWith: CloseReason | undefined;
  write(frame: Frame) {
    this.frames.push(frame);
  }
  bufferedBytes() {
    return this.buffered;
  }
  close(reason: CloseReason) {
    this.closedWith = reason;
  }
}

function session(hub = 'presence', transport: 'ws' | 'sse' = 'ws') {
  const sink = new RecordingSink();
  return { sink, session: new Session({ hub, transport, sink, maxBufferedBytes: 1000 }) };
}

describe('session', () => {
  test('sends until closed, closes once with its reason', () => {
    const { sink, session: s } = session();
    assert.equal(s.send('a'), true);
    const reasons: CloseReason[] = [];
    s.onClose((reason) => reasons.push(reason));
    s.close(closeReasons.shutdown);
    s.close(closeReasons.idle);
    assert.equal(s.send('b'), false);
    assert.deepEqual(sink.frames, ['a']);
    assert.equal(sink.closedWith, closeReasons.shutdown);
    assert.deepEqual(reasons, [closeReasons.shutdown]);
  });

  test('a client that does not read is dropped with a reason', () => {
    const { sink, session: s } = session();
    sink.buffered = 1001;
    assert.equal(s.send('x'), false);
    assert.equal(s.closed, true);
    assert.equal(sink.closedWith, closeReasons.slowConsumer);
    assert.deepEqual(sink.frames, []);
  });

  test('a session the client closed does not call the sink', () => {
    const { sink, session: s } = session();
    s.close(closeReasons.clientGone);
    assert.equal(sink.closedWith, undefined);
  });
});

describe('presence', () => {
  test('a user is online while any session on any hub is bound, once', () => {
    const presence = new Presence(5);
    const changes: [number, boolean][] = [];
    presence.onChange((user, online) => changes.push([user, online]));
    const a = session('presence').session;
    const b = session('chat', 'sse').session;
    for (const s of [a, b]) presence.attach(s);
    presence.bind(a, 1);
    presence.bind(b, 1);
    assert.deepEqual(presence.onlineUsers(), [1]);
    assert.deepEqual(changes, [[1, true]]);
    a.close(closeReasons.clientGone);
    assert.equal(presence.isOnline(1), true);
    presence.unbind(b);
    assert.equal(presence.isOnline(1), false);
    assert.deepEqual(changes, [[1, true], [1, false]]);
    assert.equal(presence.size, 1, 'an unbound session stays tracked until it closes');
    b.close(closeReasons.clientGone);
    assert.equal(presence.size, 0);
  });

  test('connections per user are limited', () => {
    const presence = new Presence(2);
    const sessions = [session().session, session().session, session().session];
    for (const s of sessions) presence.attach(s);
    presence.bind(sessions[0]!, 9);
    presence.bind(sessions[1]!, 9);
    assert.throws(() => presence.bind(sessions[2]!, 9), ConnectionLimitError);
    assert.equal(sessions[2]!.userId, undefined);
    presence.bind(sessions[2]!, 10);
  });

  test('counts by hub and transport; closeAll closes with the shutdown reason', () => {
    const presence = new Presence(5);
    const made = [session('presence', 'ws'), session('chat', 'sse'), session('chat', 'sse')];
    for (const { session: s } of made) presence.attach(s);
    assert.deepEqual(presence.counts(), { 'presence/ws': 1, 'chat/sse': 2 });
    presence.closeAll();
    assert.ok(made.every(({ sink }) => sink.closedWith === closeReasons.shutdown));
    assert.equal(presence.size, 0);
  });

  test('disconnectUser closes all sessions of that user only', () => {
    const presence = new Presence(5);
    const mine = [session(), session()];
    const theirs = session();
    for (const { session: s } of [...mine, theirs]) presence.attach(s);
    for (const { session: s } of mine) presence.bind(s, 1);
    presence.bind(theirs.session, 2);
    presence.disconnectUser(1);
    assert.ok(mine.every(({ sink }) => sink.closedWith === closeReasons.userRemoved));
    assert.equal(theirs.sink.closedWith, undefined);
    assert.deepEqual(presence.onlineUsers(), [2]);
  });
});

test('a held user is online without a connection, and connecting changes nothing', () => {
  const presence = new Presence(5);
  const changes: [number, boolean][] = [];
  presence.onChange((user, online) => changes.push([user, online]));
  presence.hold(3);
  assert.deepEqual(presence.onlineUsers(), [3]);
  const s = session().session;
  presence.attach(s);
  presence.bind(s, 3);
  s.close(closeReasons.clientGone);
  assert.equal(presence.isOnline(3), true);
  assert.deepEqual(changes, [[3, true]]);
});
