// The signature against the Standard Webhooks reference library (npm standardwebhooks), as a receiver
// would check it: whsec_ secrets and plain-text secrets, and a tampered body or id refused.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { newEventId, signature, webhookKey } from './signature.ts';

const body = JSON.stringify({ type: 'message.created', timestamp: '2026-01-02T03:04:05.000Z', data: { text: 'hé "there"' } });
const now = () => Math.floor(Date.now() / 1000);

function headers(secret: string, id: string, timestamp: number, signed = body): Record<string, string> {
  return { 'webhook-id': id, 'webhook-timestamp': String(timestamp), 'webhook-signature': signature(webhookKey(secret), id, timestamp, signed) };
}

test('a whsec_ secret: the library verifies, and signs the same bytes', () => {
  const secret = `whsec_${Buffer.from('0123456789abcdef0123456789abcdef').toString('base64')}`;
  const id = newEventId();
  const timestamp = now();
  const receiver = new Webhook(secret);
  assert.deepEqual(receiver.verify(body, headers(secret, id, timestamp)), JSON.parse(body));
  assert.equal(receiver.sign(id, new Date(timestamp * 1000), body), signature(webhookKey(secret), id, timestamp, body));
});

test('the test vector of the reference libraries', () => {
  // From the Standard Webhooks libraries' own tests.
  const key = webhookKey('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw');
  assert.equal(signature(key, 'msg_p5jXN8AQM9LWM0D4loKWxJek', 1614265330, '{"test": 2432232314}'), 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=');
});

test('a plain-text secret is its UTF-8 bytes (the library takes them with format "raw")', () => {
  const secret = 'a plain secret, long enough';
  const id = newEventId();
  const receiver = new Webhook(Buffer.from(secret, 'utf8'), { format: 'raw' });
  assert.deepEqual(receiver.verify(body, headers(secret, id, now())), JSON.parse(body));
});

test('a changed body, id or secret does not verify', () => {
  const secret = 'a plain secret, long enough';
  const receiver = new Webhook(Buffer.from(secret, 'utf8'), { format: 'raw' });
  const id = newEventId();
  const good = headers(secret, id, now());
  assert.throws(() => receiver.verify(body.replace('there', 'where'), good), /No matching signature/);
  assert.throws(() => receiver.verify(body, { ...good, 'webhook-id': newEventId() }), /No matching signature/);
  assert.throws(() => receiver.verify(body, headers('another secret, long enough', id, now())), /No matching signature/);
});

test('event ids are unique and never contain the delimiter "."', () => {
  const ids = new Set(Array.from({ length: 1000 }, newEventId));
  assert.equal(ids.size, 1000);
  for (const id of ids) assert.match(id, /^msg_[A-Za-z0-9_-]{22}$/);
});
