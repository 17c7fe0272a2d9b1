import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { tokenFromAuthorization } from './auth.ts';
import { membersOf, peerIn, roomOf } from './conversation.ts';
import { envelopeText } from './envelope.ts';
import { errorFrame, gapFrame, messageFields, messageFrame } from './frames.ts';
import { parseSeq } from './params.ts';
import { chatSegment } from './upgrade.ts';

describe('dm frames', () => {
  test("the seed README's received message, byte for byte, with flashhub's to and id after it", () => {
    // README: {"from": "apm", "body": "hello world!", "sent_at": 1630121139}
    assert.equal(
      messageFrame('apm', 'popo', 'hello world!', 1630121139_000, 1),
      '{"from":"apm","body":"hello world!","sent_at":1630121139,"to":"popo","id":1}',
    );
    assert.equal(messageFrame('apm', 'popo', 'x', 1630121139_999, 7), '{"from":"apm","body":"x","sent_at":1630121139,"to":"popo","id":7}', 'seconds, rounded down');
    assert.deepEqual(Object.keys(messageFields('a', 'b', 'c', 0, 1)), ['from', 'body', 'sent_at', 'to', 'id']);
  });

  test('bodies are raw text: quotes, newlines, unicode and JSON-looking text stay text', () => {
    const body = '{"not":"parsed"}\n"quoted" \u2028 zoë 😀';
    const frame = messageFrame('a', 'b', body, 0, 2);
    assert.equal(JSON.parse(frame).body, body);
    assert.ok(!frame.includes('\n'));
  });

  test('envelopes carry the status as a string; gap and error frames', () => {
    assert.equal(envelopeText(200, 'welcome Parsa', { token: 't' }), '{"code":"200","message":"welcome Parsa","content":{"token":"t"}}');
    assert.equal(envelopeText(401, 'Authorization header is required'), '{"code":"401","message":"Authorization header is required","content":null}');
    assert.equal(errorFrame(422, 'message is empty'), '{"code":"422","message":"message is empty","content":null}');
    assert.equal(gapFrame('bob', 5, 100), '{"type":"gap","chat":"bob","after":5,"before":100}');
  });
});

describe('dm Authorization parsing (seed middlewares/auth.go)', () => {
  test('"Bearer <t>", "Bearer<t>" (the Go client) and a bare token', () => {
    assert.equal(tokenFromAuthorization('Bearer abc.def.ghi'), 'abc.def.ghi');
    assert.equal(tokenFromAuthorization('Bearerabc.def.ghi'), 'abc.def.ghi');
    assert.equal(tokenFromAuthorization('abc.def.ghi'), 'abc.def.ghi');
    assert.equal(tokenFromAuthorization('  bearer   abc  '), 'abc');
  });

  test('no header (or a blank one) is "no credentials"; "Bearer" alone is an empty token', () => {
    assert.equal(tokenFromAuthorization(undefined), undefined);
    assert.equal(tokenFromAuthorization('   '), undefined);
    assert.equal(tokenFromAuthorization('Bearer'), '');
  });
});

describe('dm conversations and paths', () => {
  test('one room per pair of users, whoever writes first', () => {
    assert.equal(roomOf(12, 3), 'dm:3:12');
    assert.equal(roomOf(3, 12), 'dm:3:12');
    assert.equal(roomOf(5, 5), 'dm:5:5');
    assert.deepEqual(membersOf('dm:3:12'), [3, 12]);
    assert.equal(membersOf('3:12'), undefined);
    assert.equal(membersOf('dm-cursors:3'), undefined);
    assert.equal(peerIn('dm:3:12', 3), 12);
    assert.equal(peerIn('dm:3:12', 12), 3);
    assert.equal(peerIn('dm:5:5', 5), 5);
  });

  test('WebSocket paths: one non-empty segment after the prefix', () => {
    assert.equal(chatSegment('/chats/apm', '/chats/'), 'apm');
    assert.equal(chatSegment('/chats/a%40b.c', '/chats/'), 'a%40b.c');
    assert.equal(chatSegment('/chats/', '/chats/'), undefined);
    assert.equal(chatSegment('/chats/apm/x', '/chats/'), undefined);
    assert.equal(chatSegment('/chat/apm', '/chats/'), undefined);
    assert.equal(chatSegment('/dm/chats/apm', '/chats/'), undefined);
  });

  test('ids in query parameters', () => {
    assert.equal(parseSeq('17', 0), 17);
    assert.equal(parseSeq(' 0 ', 0), 0);
    assert.equal(parseSeq('0', 1), undefined);
    for (const bad of ['', '-1', '1.5', '1e3', 'abc', '9999999999999999']) assert.equal(parseSeq(bad, 0), undefined, bad);
  });
});
