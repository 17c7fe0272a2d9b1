// One URL's queue against a real HTTP receiver: order per key, retries, refusals, the bound, close.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { startReceiver, type Receiver } from '../../test/support/webhook-receiver.ts';
import { createLogger } from '../log.ts';
import { maxAttempts } from './backoff.ts';
import type { WebhookEvent } from './payload.ts';
import { DeliveryQueue, type WebhookStats } from './queue.ts';
import { webhookKey } from './signature.ts';

const secret = 'queue-test-secret-0123456789';
let serial = 0;
const event = (key: string, text = `event ${++serial}`): WebhookEvent => ({
  id: `msg_${serial}_${key.replace(':', '')}`,
  type: 'message.created',
  key,
  body: JSON.stringify({ type: 'message.created', timestamp: new Date().toISOString(), data: { text } }),
});
const textOf = (request: { json: any }) => request.json.data.text as string;

describe('DeliveryQueue', () => {
  let receiver: Receiver;
  let stats: WebhookStats;
  let logs: Record<string, any>[];
  const queue = (capacity = 100) =>
    new DeliveryQueue({
      url: receiver.url,
      key: webhookKey(secret),
      capacity,
      retryBaseMs: 5,
      stats,
      log: createLogger({ format: 'json', level: 'debug', write: (line) => logs.push(JSON.parse(line)) }),
    });

  before(async () => {
    receiver = await startReceiver();
  });
  after(() => receiver.close());
  beforeEach(() => {
    receiver.received.length = 0;
    receiver.answer = () => 200;
    stats = { delivered: 0, failedAttempts: 0, dropped: 0, gaveUp: 0 };
    logs = [];
  });

  test('signed; one key in order, other keys meanwhile', async () => {
    let release!: () => void;
    const held = new Promise<number>((resolve) => (release = () => resolve(200)));
    receiver.answer = (request) => (textOf(request) === 'a1' ? held : 200);
    const q = queue();
    q.push(event('room:a', 'a1'));
    q.push(event('room:a', 'a2'));
    q.push(event('room:b', 'b1'));
    await receiver.waitFor((r) => textOf(r) === 'b1');
    assert.deepEqual(receiver.received.map(textOf), ['a1', 'b1'], 'a2 waits for a1');
    release();
    await receiver.waitFor((r) => textOf(r) === 'a2');
    const verifier = new Webhook(Buffer.from(secret), { format: 'raw' });
    for (const request of receiver.received) verifier.verify(request.body, request.headers as Record<string, string>);
    await waitUntil(() => stats.delivered === 3);
    assert.equal(q.size, 0);
  });

  test('a failing event is tried again, with the same id, until delivered', async () => {
    let calls = 0;
    receiver.answer = () => (++calls <= 2 ? 500 : 204);
    const q = queue();
    const sent = event('user:1');
    q.push(sent);
    await waitUntil(() => stats.delivered === 1);
    assert.deepEqual(receiver.received.map((r) => r.headers['webhook-id']), [sent.id, sent.id, sent.id]);
    assert.equal(stats.failedAttempts, 2);
    assert.equal(q.size, 0);
  });

  test('408, 429 and 5xx are retried; a network error too', async () => {
    const statuses = [408, 429, 503];
    receiver.answer = () => statuses.shift() ?? 200;
    const q = queue();
    q.push(event('user:2'));
    await waitUntil(() => stats.delivered === 1);
    assert.equal(receiver.received.length, 4);

    const dead = new DeliveryQueue({ url: 'http://127.0.0.1:1/hook', key: webhookKey(secret), capacity: 10, retryBaseMs: 1, stats, log: createLogger({ write: () => {} }) });
    dead.push(event('user:3'));
    await waitUntil(() => stats.gaveUp === 1);
    assert.equal(stats.failedAttempts, 3 + maxAttempts, `${maxAttempts} attempts, then given up`);
  });

  test('Retry-After is honoured: the next attempt comes no earlier', async () => {
    const seen: number[] = [];
    receiver.answer = () => {
      seen.push(Date.now());
      return seen.length === 1 ? { status: 503, headers: { 'retry-after': '1' } } : 200;
    };
    const q = queue();
    q.push(event('user:4'));
    await waitUntil(() => stats.delivered === 1);
    assert.ok(seen[1]! - seen[0]! >= 990, `waited ${seen[1]! - seen[0]!} ms, not the 5 ms backoff`);
  });

  test('another 4xx is given up at once, with one warning', async () => {
    receiver.answer = (request) => (textOf(request) === 'bad' ? 400 : 200);
    const q = queue();
    q.push(event('room:c', 'bad'));
    q.push(event('room:c', 'good'));
    await waitUntil(() => stats.delivered === 1);
    assert.deepEqual(receiver.received.map(textOf), ['bad', 'good'], 'the next event of the key came after it, and no retry');
    assert.equal(stats.gaveUp, 1);
    assert.equal(logs.filter((line) => line.event === 'webhook.event_refused').length, 1);
  });

  test('the bound: past capacity new events are dropped, counted, and logged once', async () => {
    receiver.answer = () => 'hang';
    const q = queue(3);
    const taken = Array.from({ length: 50 }, (_, i) => q.push(event(`user:${100 + i}`)));
    assert.deepEqual(taken.filter(Boolean).length, 3);
    assert.equal(stats.dropped, 47);
    assert.equal(q.size, 3);
    const dropped = logs.filter((line) => line.event === 'webhook.events_dropped');
    assert.equal(dropped.length, 1, 'one line, not one per drop');
    assert.equal(await q.close(50), 3, 'what was queued is reported undelivered');
    assert.equal(logs.filter((line) => line.event === 'webhook.events_dropped').at(-1)?.count, 46, 'the rest counted at close');
    assert.equal(q.push(event('user:1')), false, 'closed');
  });

  test('close tries what is queued (retries at once) and resolves when it is delivered', async () => {
    let calls = 0;
    receiver.answer = () => (++calls === 1 ? 500 : 200);
    const q = new DeliveryQueue({ url: receiver.url, key: webhookKey(secret), capacity: 10, retryBaseMs: 60_000, stats, log: createLogger({ write: () => {} }) });
    q.push(event('user:9'));
    await waitUntil(() => stats.failedAttempts === 1);
    assert.equal(await q.close(5000), 0, 'the retry waiting a minute was tried at once');
    assert.equal(stats.delivered, 1);
  });
});

async function waitUntil(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
