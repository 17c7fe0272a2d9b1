import assert from 'node:assert/strict';
import { test } from 'node:test';
import { escapeHtml, eventJson, messageView, sseEventFrame } from './frames.ts';

test("messages have the demo's fields, plus their id in the room", () => {
  const view = messageView({ room: '1:2', seq: 7, ts: 1_795_313_050_319, from: 2, text: 'Hey' });
  assert.equal(JSON.stringify(view), '{"id":7,"from":2,"date":1795313050,"message":"Hey","roomId":"1:2"}');
});

test('events are {"type","data"}; on the EventSource with an id line', () => {
  const json = eventJson('show.room', { id: '1:2', names: [['Adam'], ['Kyle']] });
  assert.equal(json, '{"type":"show.room","data":{"id":"1:2","names":[["Adam"],["Kyle"]]}}');
  assert.equal(sseEventFrame('k3x-5', json), `id: k3x-5\ndata: ${json}\n\n`);
});

test("HTML is escaped as LendAHand's backend did", () => {
  assert.equal(escapeHtml(`<b>"Tom" & 'Jerry'</b>`), '&lt;b&gt;&quot;Tom&quot; &amp; &#x27;Jerry&#x27;&lt;/b&gt;');
  assert.equal(escapeHtml('plain text'), 'plain text');
});
