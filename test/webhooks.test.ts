// Webhooks end to end: a real flashhub process POSTing to a real HTTP receiver in this test. Events
// (online/offline with the debounce, chat and dm messages, acknowledgements), the signature checked
// with the Standard Webhooks library, retries, refusals, the queue bound, and the configuration.
//
// No timing assertions: each test waits for the event it expects, with a deadline. That nothing was
// sent is shown through order: events of one user (or one room) are delivered strictly in order, so
// once a later event of that key arrived, an earlier one that had been sent would be there too.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { call } from './support/cluster.ts';
import { runCli, startFlashhub, tempDir, waitForLog, type RunningFlashhub } from './support/flashhub.ts';
import { openSse } from './support/sse.ts';
import { startReceiver, type Answer, type Received, type Receiver } from './support/webhook-receiver.ts';
import { connectWs, type WsClient } from './support/ws.ts';

const secret = `whsec_${randomBytes(32).toString('base64')}`;
const password = 'webhook-test-pass';
const clientSecret = 'webhook-client-secret-0123';
const offlineDelaySeconds = 2;

async function register(base: string, username: string): Promise<{ id: number; token: string }> {
  const { status, json } = await call(base, 'POST', '/dm/register', { name: username, username, password });
  assert.equal(status, 200, JSON.stringify(json));
  const login = await call(base, 'POST', '/chat/login', { username, password });
  return { id: Number(login.json.id), token: json.content.token };
}

async function chatSession(base: string, username: string): Promise<string> {
  const { status, headers } = await call(base, 'POST', '/chat/login', { username, password });
  assert.equal(status, 200);
  return headers.get('set-cookie')!.split(';')[0]!;
}

const ofType = (type: string, matches: (data: any) => boolean = () => true) => (request: Received) => request.json?.type === type && matches(request.json.data);
const aboutUser = (id: number) => (request: Received) => request.json?.data?.user?.id === id;

function serverEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    FLASHHUB_WEBHOOK_SECRET: secret,
    FLASHHUB_WEBHOOK_OFFLINE_DELAY: String(offlineDelaySeconds),
    // Retries after 20, 40, 80 ms ... instead of 1, 2, 4 s.
    FLASHHUB_WEBHOOK_RETRY_DELAY: '20',
    FLASHHUB_CLIENT_ID: 'backend',
    FLASHHUB_CLIENT_SECRET: clientSecret,
    ...extra,
  };
}

describe('webhooks', () => {
  let receiver: Receiver;
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let server: RunningFlashhub;
  let wsBase: string;
  const sockets: WsClient[] = [];
  const dmSocket = async (token: string, peer: string) => {
    const socket = await connectWs(`${wsBase}/dm/chats/${peer}`, { headers: { authorization: `Bearer ${token}` } });
    sockets.push(socket);
    return socket;
  };

  before(async () => {
    receiver = await startReceiver();
    dir = await tempDir();
    server = await startFlashhub(['--data', dir.path, '--webhook', receiver.url], { env: serverEnv() });
    wsBase = server.url.replace('http', 'ws');
  });
  after(async () => {
    for (const socket of sockets) socket.close();
    await server.stop();
    await receiver.close();
    await dir.remove();
  });

  test('user.online on connect and user.offline after the delay, signed as Standard Webhooks', async () => {
    const alice = await register(server.url, 'alice');
    await register(server.url, 'bob');
    const socket = await dmSocket(alice.token, 'bob');
    const online = await receiver.waitFor((r) => ofType('user.online')(r) && aboutUser(alice.id)(r));
    assert.deepEqual(online.json.data, { user: { id: alice.id, username: 'alice' } });
    assert.ok(Math.abs(Date.parse(online.json.timestamp) - Date.now()) < 60_000, 'an ISO timestamp of the event');
    assert.equal(online.headers['content-type'], 'application/json');
    assert.match(online.headers['user-agent'] ?? '', /^flashhub\/\d+\.\d+\.\d+/);
    assert.match(online.headers['webhook-id'] as string, /^msg_[\w-]+$/);
    assert.deepEqual(new Webhook(secret).verify(online.body, online.headers as Record<string, string>), online.json);

    socket.close();
    const offline = await receiver.waitFor((r) => ofType('user.offline')(r) && aboutUser(alice.id)(r), offlineDelaySeconds * 1000 + 10_000);
    assert.deepEqual(offline.json.data, { user: { id: alice.id, username: 'alice' } });
    new Webhook(secret).verify(offline.body, offline.headers as Record<string, string>);
  });

  test('a reconnect within the delay sends nothing, neither offline nor a second online', async () => {
    const carl = await register(server.url, 'carl');
    const first = await dmSocket(carl.token, 'bob');
    await receiver.waitFor((r) => ofType('user.online')(r) && aboutUser(carl.id)(r));
    first.close();
    await first.closed;
    const second = await dmSocket(carl.token, 'bob');
    second.close();
    // The offline after the second connection; anything the reconnect sent would come before it.
    await receiver.waitFor((r) => ofType('user.offline')(r) && aboutUser(carl.id)(r), offlineDelaySeconds * 1000 + 10_000);
    assert.deepEqual(receiver.received.filter(aboutUser(carl.id)).map((r) => r.json.type), ['user.online', 'user.offline']);
  });

  test('message.created for a chat post', async () => {
    const dora = await register(server.url, 'dora');
    const cookie = await chatSession(server.url, 'dora');
    const posted = await call(server.url, 'POST', '/chat/room/0/messages', { message: 'hello <everyone>' }, { cookie });
    assert.equal(posted.status, 201);
    const created = await receiver.waitFor(ofType('message.created', (data) => data.hub === 'chat' && data.from.id === dora.id));
    assert.deepEqual(created.json.data, { hub: 'chat', room: '0', id: posted.json.id, from: { id: dora.id, username: 'dora' }, text: 'hello &lt;everyone&gt;' });
    assert.equal(Math.floor(Date.parse(created.json.timestamp) / 1000), posted.json.date, 'the time the message was stored');
  });

  test('message.created for a dm', async () => {
    const erin = await register(server.url, 'erin');
    const frank = await register(server.url, 'frank');
    const socket = await dmSocket(erin.token, 'frank');
    socket.send('hi frank');
    const created = await receiver.waitFor(ofType('message.created', (data) => data.hub === 'dm' && data.from.id === erin.id));
    assert.deepEqual(created.json.data, {
      hub: 'dm',
      room: `dm:${Math.min(erin.id, frank.id)}:${Math.max(erin.id, frank.id)}`,
      id: 1,
      from: { id: erin.id, username: 'erin' },
      to: { id: frank.id, username: 'frank' },
      text: 'hi frank',
    });
    socket.close();
  });

  test('notification.acked for an acknowledgement, once', async () => {
    const token = (await call(server.url, 'POST', '/api/auth/token', { client_id: 'backend', client_secret: clientSecret })).json.access_token;
    const auth = { authorization: `Bearer ${token}` };
    assert.equal((await call(server.url, 'POST', '/api/message/notify', { users: ['gina'], payload: { n: 1 } }, auth)).status, 202);
    const streamToken = (await call(server.url, 'GET', '/api/user/gina/token', undefined, auth)).json.access_token;
    const stream = await openSse(`${server.url}/sse?token=${streamToken}`);
    const { id } = JSON.parse((await stream.next()).data);
    stream.close();
    const acked = await call(server.url, 'POST', '/api/message/acknowledge', { user_id: 'gina', message_ids: [id] }, auth);
    assert.deepEqual(acked.json, { acknowledged: 1 });
    assert.deepEqual((await call(server.url, 'POST', '/api/message/acknowledge', { user_id: 'gina', message_ids: [id] }, auth)).json, { acknowledged: 0 });
    const event = await receiver.waitFor(ofType('notification.acked'));
    const gina = event.json.data.user;
    assert.equal(gina.username, 'gina');
    assert.deepEqual(event.json.data, { user: gina, ids: [id], acknowledged: 1 });
    // gina's offline comes after the stream closed, and after the acknowledgements: had the second
    // one sent anything, it would be there.
    await receiver.waitFor((r) => ofType('user.offline')(r) && aboutUser(gina.id)(r), offlineDelaySeconds * 1000 + 10_000);
    assert.equal(receiver.received.filter(ofType('notification.acked')).length, 1);
  });

  /**
   * Posts `first` and then `then` to General while the receiver answers `first` as told, and waits
   * for `then`: one room's messages go in order, so `first` was delivered or given up by then.
   */
  async function postWhileAnswering(username: string, first: string, answer: () => Answer, then: string): Promise<void> {
    await register(server.url, username);
    const cookie = await chatSession(server.url, username);
    receiver.answer = (request) => (request.json?.data?.text === first ? answer() : 200);
    try {
      for (const message of [first, then]) assert.equal((await call(server.url, 'POST', '/chat/room/0/messages', { message }, { cookie })).status, 201);
      await receiver.waitFor(ofType('message.created', (data) => data.text === then));
    } finally {
      receiver.answer = () => 200;
    }
  }

  test('an event answered 500 twice is tried again, with the same id, and delivered the third time', async () => {
    let failures = 0;
    await postWhileAnswering('hana', 'retry me', () => (failures++ < 2 ? 500 : 200), 'after the retries');
    const attempts = receiver.received.filter(ofType('message.created', (data) => data.text === 'retry me'));
    assert.equal(attempts.length, 3);
    assert.equal(new Set(attempts.map((r) => r.headers['webhook-id'])).size, 1, 'one id for every attempt');
    for (const attempt of attempts) new Webhook(secret).verify(attempt.body, attempt.headers as Record<string, string>);
    await waitForLog(server, (line) => line.event === 'webhook.attempt_failed');
  });

  test('an event answered 400 is not tried again', async () => {
    await postWhileAnswering('ivan', 'refuse me', () => 400, 'after the refusal');
    assert.equal(receiver.received.filter(ofType('message.created', (data) => data.text === 'refuse me')).length, 1);
    const warning = await waitForLog(server, (line) => line.event === 'webhook.event_refused');
    assert.equal(warning.status, 400);
  });
});

describe('webhooks: a receiver that never answers', () => {
  test('the queue stays bounded, drops are counted, the server carries on', async () => {
    const receiver = await startReceiver();
    receiver.answer = () => 'hang';
    const dir = await tempDir();
    const server = await startFlashhub(['--data', dir.path, '--webhook', receiver.url], { env: serverEnv({ FLASHHUB_WEBHOOK_QUEUE: '3' }) });
    try {
      await register(server.url, 'jo');
      const cookie = await chatSession(server.url, 'jo');
      for (let i = 0; i < 20; i++) {
        const posted = await call(server.url, 'POST', '/chat/room/0/messages', { message: `message ${i}` }, { cookie });
        assert.equal(posted.status, 201, 'posting is not held up by the webhook');
      }
      const dropped = await waitForLog(server, (line) => line.event === 'webhook.events_dropped');
      assert.equal(dropped.queue, 3);
      assert.ok(server.logs.filter((line) => line.event === 'webhook.events_dropped').length < 5, 'not a line per drop');
      assert.equal((await call(server.url, 'GET', '/healthz')).status, 200);
      assert.equal(await server.stop(), 0);
      const undelivered = await waitForLog(server, (line) => line.event === 'webhook.undelivered');
      assert.ok((undelivered.events as number) >= 1 && (undelivered.events as number) <= 3, JSON.stringify(undelivered));
    } finally {
      if (server.child.exitCode === null) await server.stop('SIGKILL');
      await receiver.close();
      await dir.remove();
    }
  });
});

describe('webhooks: configuration', () => {
  test('a webhook without webhook_secret does not start', async () => {
    const dir = await tempDir();
    try {
      const result = await runCli(['serve', '--port', '0', '--data', dir.path, '--webhook', 'http://127.0.0.1:9/hook']);
      assert.notEqual(result.code, 0);
      assert.match(result.stderr, /webhook needs webhook_secret/);
      const bad = await runCli(['serve', '--port', '0', '--data', dir.path, '--webhook', 'ftp://example.com/x'], { env: { FLASHHUB_WEBHOOK_SECRET: secret } });
      assert.notEqual(bad.code, 0);
      assert.match(bad.stderr, /not an http\(s\) URL/);
    } finally {
      await dir.remove();
    }
  });
});
