import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { errorFrame, failureFrame, messageFrame, onlineFrame, onlineStatusFrame, parseRequest, replyFrame } from './frames.ts';

describe('presence frames', () => {
  test("the brief's requests parse, with type/event/action, args at the top or in data, any case", () => {
    assert.deepEqual(parseRequest('{"type":"HELLO","userid":42,"accesstoken":"t"}'), {
      ok: true,
      request: { name: 'HELLO', reqId: undefined, args: withoutPrototype({ userid: 42, accesstoken: 't' }) },
    });
    assert.deepEqual(parseRequest('{"event":"sendmessagetouser","data":{"id":7,"message":{"a":1}},"reqId":"r1"}'), {
      ok: true,
      request: { name: 'sendMessageToUser', reqId: 'r1', args: withoutPrototype({ id: 7, message: { a: 1 } }) },
    });
    assert.equal((parseRequest('{"action":"GetAllOnline"}') as { request: { name: string } }).request.name, 'getAllOnline');
    assert.equal((parseRequest('{"type":"USER_HELLO_EVENT","userToken":"t"}') as { request: { name: string } }).request.name, 'HELLO');
  });

  test('a "__proto__" field is a field: it neither becomes the arguments\' prototype nor hides them', () => {
    const parsed = parseRequest('{"type":"HELLO","__proto__":{"accesstoken":"hidden"},"data":{"__proto__":{"userid":1}}}');
    assert.ok(parsed.ok);
    const { args } = parsed.request;
    assert.equal(Object.getPrototypeOf(args), null);
    assert.equal(args.accesstoken, undefined);
    assert.equal(args.userid, undefined);
    assert.deepEqual(Object.keys(args), ['__proto__']);
  });

  test('frames nested deeper than 64 levels are refused whole, with their reqId', () => {
    const deep = `{"type":"ping","reqId":"d","x":${'['.repeat(64)}${']'.repeat(64)}}`;
    assert.deepEqual(parseRequest(deep), { ok: false, error: 'JSON nested deeper than 64 levels', reqId: 'd' });
    assert.equal(parseRequest(`{"type":"ping","x":${'['.repeat(62)}${']'.repeat(62)}}`).ok, true);
  });

  test('bad frames say why, echoing the reqId when there is one', () => {
    assert.deepEqual(parseRequest('{nope'), { ok: false, error: 'invalid JSON' });
    assert.deepEqual(parseRequest('[1]'), { ok: false, error: 'a frame is a JSON object' });
    assert.deepEqual(parseRequest('"HELLO"'), { ok: false, error: 'a frame is a JSON object' });
    assert.deepEqual(parseRequest('{"type":"dance","reqId":5}'), { ok: false, error: 'unknown type', reqId: 5 });
    assert.deepEqual(parseRequest('{"type":"constructor"}'), { ok: false, error: 'unknown type', reqId: undefined });
    assert.deepEqual(parseRequest('{"type":"__proto__"}'), { ok: false, error: 'unknown type', reqId: undefined });
  });

  test('replies and events, byte for byte', () => {
    assert.equal(replyFrame('HELLO', 'r1', { userid: 42 }), '{"type":"HELLO","ok":true,"userid":42,"reqId":"r1"}');
    assert.equal(replyFrame('GOODBYE', undefined), '{"type":"GOODBYE","ok":true}');
    assert.equal(failureFrame('sendMessageToUser', 3, 'not authenticated'), '{"type":"sendMessageToUser","ok":false,"error":"not authenticated","reqId":3}');
    assert.equal(errorFrame('unknown type'), '{"type":"error","error":"unknown type"}');
    assert.equal(onlineFrame([1, 42]), '{"type":"online","users":[1,42]}');
    assert.equal(onlineFrame([]), '{"type":"online","users":[]}');
    assert.equal(onlineStatusFrame(42, false), '{"type":"onlineStatus","userid":42,"online":false}');
    assert.equal(messageFrame(42, { text: 'hi' }), '{"type":"message","from":42,"message":{"text":"hi"}}');
  });
});

function withoutPrototype(fields: Record<string, unknown>): Record<string, unknown> {
  return Object.assign(Object.create(null) as Record<string, unknown>, fields);
}
