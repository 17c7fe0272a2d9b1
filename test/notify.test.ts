// Hub notify (seed 000) over real sockets: client tokens, users, groups, notify, the EventSource
// stream with replay, acknowledge and Last-Event-ID, token kinds, and bad input.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { EventSource } from 'eventsource';
import { Tokens } from '../src/core/tokens.ts';
import { runCli, signingKey, startFlashhub, tempDir, waitForLog, type RunningFlashhub } from './support/flashhub.ts';
import { openSse, type SseStream } from './support/sse.ts';

const clientSecret = 'backend-secret-0123456789';

interface Api {
  base: string;
  call(method: string, path: string, body?: unknown, token?: string): Promise<{ status: number; json: any }>;
  clientToken(): Promise<string>;
  streamToken(userId: string): Promise<string>;
}

function api(base: string): Api {
  const call: Api['call'] = async (method, path, body, token) => {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (token) headers.authorization = `Bearer ${token}`;
    const response = await fetch(`${base}${path}`, { method, headers, body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body) });
    const text = await response.text();
    return { status: response.status, json: text ? JSON.parse(text) : undefined };
  };
  return {
    base,
    call,
    async clientToken() {
      const { status, json } = await call('POST', '/api/auth/token', { client_id: 'backend', client_secret: clientSecret });
      assert.equal(status, 200);
      return json.access_token as string;
    },
    async streamToken(userId) {
      const { status, json } = await call('GET', `/api/user/${encodeURIComponent(userId)}/token`, undefined, await this.clientToken());
      assert.equal(status, 200, JSON.stringify(json));
      return json.access_token as string;
    },
  };
}

async function startWithClient(args: string[] = [], env: NodeJS.ProcessEnv = {}) {
  const dir = await tempDir();
  const added = await runCli(['client', 'add', 'backend', '--secret', clientSecret, '--data', dir.path]);
  assert.equal(added.code, 0, added.stderr);
  const server = await startFlashhub(['--data', dir.path, ...args], { env });
  return { dir, server };
}

const data = (event: { data: string }) => JSON.parse(event.data) as { id: string; payload: unknown; read: boolean };

describe('notify', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let server: RunningFlashhub;
  let root: Api;
  let client: string;

  before(async () => {
    ({ dir, server } = await startWithClient(['--listen', '127.0.0.1:0']));
    root = api(server.url);
    client = await root.clientToken();
  });
  after(async () => {
    await server.stop();
    await dir.remove();
  });

  describe('POST /api/auth/token', () => {
    test('good credentials give a bearer client token', async () => {
      const { status, json } = await root.call('POST', '/api/auth/token', { client_id: 'backend', client_secret: clientSecret });
      assert.equal(status, 200);
      assert.equal(json.type, 'bearer');
      assert.match(json.access_token, /^ey[\w-]+\.[\w-]+\.[\w-]+$/);
      assert.equal(json.expires_in, 300);
    });

    test('bad credentials: 400 in the seed wording', async () => {
      for (const body of [{ client_id: 'backend', client_secret: 'wrong-secret' }, { client_id: 'nobody', client_secret: clientSecret }]) {
        const { status, json } = await root.call('POST', '/api/auth/token', body);
        assert.equal(status, 400);
        assert.deepEqual(json, { error: 'Invalid client credentials' });
      }
    });

    test("validation errors in seed 000's {error, detail} shape", async () => {
      const { status, json } = await root.call('POST', '/api/auth/token', { client_id: '', client_secret: 3 });
      assert.equal(status, 400);
      assert.deepEqual(json, { error: 'Validation error', detail: { client_id: 'Client id cannot be empty', client_secret: 'Client secret cannot be empty' } });
      const broken = await root.call('POST', '/api/auth/token', '{"client_id":');
      assert.equal(broken.status, 400);
      assert.match(broken.json.error, /^invalid JSON/);
    });

    test('the canonical path works too', async () => {
      const { status } = await api(`${server.url}/notify`).call('POST', '/api/auth/token', { client_id: 'backend', client_secret: clientSecret });
      assert.equal(status, 200);
    });
  });

  describe('authorisation', () => {
    test('the API needs a client token', async () => {
      for (const [method, route] of [['GET', '/api/user'], ['POST', '/api/user'], ['DELETE', '/api/user/x'], ['GET', '/api/user/x/token'], ['GET', '/api/group'], ['POST', '/api/group'], ['DELETE', '/api/group/g'], ['PUT', '/api/group/g/user/x'], ['POST', '/api/message/notify'], ['POST', '/api/message/acknowledge']] as const) {
        const missing = await root.call(method, route, method === 'GET' ? undefined : {});
        assert.equal(missing.status, 401, `${method} ${route}`);
        assert.deepEqual(missing.json, { error: 'Missing credentials' });
        const garbage = await root.call(method, route, method === 'GET' ? undefined : {}, 'not-a-token');
        assert.deepEqual([garbage.status, garbage.json], [401, { error: 'Invalid token' }], `${method} ${route}`);
      }
    });

    test('a user token (as dm or presence issue them) or a stream token never opens the server API', async () => {
      const secret = await signingKey(dir.path);
      const userToken = await new Tokens(secret, { client: 300, user: 300, stream: 300 }).issue('user', '1', 'alice');
      const streamToken = await root.streamToken('alice');
      for (const token of [userToken, streamToken]) {
        const { status } = await root.call('POST', '/api/message/notify', { users: ['alice'], payload: 'x' }, token);
        assert.equal(status, 401);
        assert.equal((await root.call('GET', '/api/user', undefined, token)).status, 401);
      }
      const ack = await root.call('POST', '/api/message/acknowledge', { message_ids: ['1'] }, userToken);
      assert.equal(ack.status, 401, 'acknowledge takes client or stream tokens, not user tokens');
    });
  });

  describe('users', () => {
    test('create, read, page, delete', async () => {
      const created = await root.call('POST', '/api/user', { user_id: 'ursula', name: 'Ursula K.' }, client);
      assert.equal(created.status, 201);
      assert.deepEqual(created.json, { user_id: 'ursula', id: created.json.id, name: 'Ursula K.', online: false });
      assert.equal((await root.call('POST', '/api/user', { user_id: 'ursula' }, client)).status, 409);
      const invalid = await root.call('POST', '/api/user', { user_id: 'no spaces' }, client);
      assert.equal(invalid.status, 400);
      assert.match(invalid.json.detail.user_id, /username has 1 to 64/);
      assert.deepEqual((await root.call('POST', '/api/user', {}, client)).json, { error: 'Validation error', detail: { user_id: 'User id cannot be empty' } });
      const one = await root.call('GET', '/api/user/ursula', undefined, client);
      assert.equal(one.json.name, 'Ursula K.');
      const page = await root.call('GET', '/api/user?page=1&page_size=1', undefined, client);
      assert.equal(page.json.list.length, 1);
      assert.equal(page.json.page_size, 1);
      assert.ok(page.json.total >= 1);
      assert.equal((await root.call('GET', '/api/user?page=0', undefined, client)).status, 400);
      assert.equal((await root.call('GET', '/api/user?page_size=501', undefined, client)).status, 400);
      const deleted = await root.call('DELETE', '/api/user/ursula', undefined, client);
      assert.deepEqual(deleted.json, { user_id: 'ursula', deleted: true });
      assert.deepEqual(await root.call('DELETE', '/api/user/ursula', undefined, client), { status: 404, json: { error: 'User not found' } });
    });

    test('a user made on another hub (here: the CLI) is the same user here', async () => {
      await runCli(['user', 'add', 'cli-made', '--data', dir.path]);
      const found = await root.call('GET', '/api/user/cli-made', undefined, client);
      assert.equal(found.status, 200);
      assert.equal(found.json.user_id, 'cli-made');
    });
  });

  describe('groups', () => {
    test('create with users, add and remove members, delete', async () => {
      const created = await root.call('POST', '/api/group', { group_id: 'ops', users: ['gina', 'hal'] }, client);
      assert.equal(created.status, 201);
      assert.deepEqual(created.json, { group_id: 'ops', users: ['gina', 'hal'] });
      assert.equal((await root.call('POST', '/api/group', { group_id: 'ops' }, client)).status, 409);
      assert.equal((await root.call('POST', '/api/group', { group_id: '' }, client)).status, 400);
      assert.equal((await root.call('POST', '/api/group', { group_id: 'x', users: 'gina' }, client)).status, 400);
      const added = await root.call('PUT', '/api/group/ops/user/ivy', undefined, client);
      assert.deepEqual(added.json, { group_id: 'ops', user_id: 'ivy', member: true });
      assert.deepEqual((await root.call('GET', '/api/group/ops', undefined, client)).json.users, ['gina', 'hal', 'ivy']);
      const listed = await root.call('GET', '/api/group', undefined, client);
      assert.deepEqual(listed.json.list.find((g: { group_id: string }) => g.group_id === 'ops'), { group_id: 'ops', member_count: 3 });
      assert.equal((await root.call('DELETE', '/api/group/ops/user/hal', undefined, client)).status, 200);
      assert.equal((await root.call('DELETE', '/api/group/ops/user/hal', undefined, client)).status, 404);
      assert.equal((await root.call('PUT', '/api/group/nope/user/ivy', undefined, client)).status, 404);
      assert.deepEqual((await root.call('DELETE', '/api/group/ops', undefined, client)).json, { group_id: 'ops', deleted: true });
      assert.deepEqual(await root.call('DELETE', '/api/group/ops', undefined, client), { status: 404, json: { error: 'Group not found' } });
    });
  });

  describe('notify and the stream', () => {
    const streams: SseStream[] = [];
    after(() => streams.forEach((s) => s.close()));
    const open = async (url: string, headers?: Record<string, string>) => {
      const stream = await openSse(url, headers);
      streams.push(stream);
      return stream;
    };

    test('a notification reaches every open stream of the user, with a real id', async () => {
      const token = await root.streamToken('alice');
      const first = await open(`${server.url}/sse?token=${token}`);
      const second = await open(`${server.url}/notify/sse?token=${token}`);
      assert.equal(first.status, 200);
      assert.match(first.headers.get('content-type') ?? '', /^text\/event-stream/);
      for (const s of [first, second]) assert.deepEqual(data(await s.next()), { id: '', payload: 'ping', read: false });
      const sent = await root.call('POST', '/api/message/notify', { users: ['alice'], payload: 'hi' }, client);
      assert.deepEqual(sent, { status: 202, json: { recipients: 1 } });
      const got = await Promise.all([first.next(), second.next()]);
      for (const event of got) {
        assert.ok(event.id && /^\d+$/.test(event.id));
        assert.deepEqual(data(event), { id: event.id, payload: 'hi', read: false });
      }
      const json = { kind: 'invoice', lines: [1, 2], note: 'two\nlines' };
      await root.call('POST', '/api/message/notify', { users: ['alice'], payload: json }, client);
      assert.deepEqual(data(await first.next()).payload, json);
    });

    test('a user that did not exist yet gets it on first connect; nothing waiting sends one ping', async () => {
      const sent = await root.call('POST', '/api/message/notify', { users: ['newbie'], payload: 'welcome' }, client);
      assert.equal(sent.status, 202);
      const stream = await open(`${server.url}/sse?token=${await root.streamToken('newbie')}`);
      const event = await stream.next();
      assert.equal(data(event).payload, 'welcome');
      await assert.rejects(stream.next(300), /no event/, 'no ping after a replay');
    });

    test('unacknowledged notifications are replayed oldest first; acknowledged never again', async () => {
      for (const payload of ['one', 'two', 'three']) await root.call('POST', '/api/message/notify', { users: ['bea'], payload }, client);
      let stream = await open(`${server.url}/sse?token=${await root.streamToken('bea')}`);
      const replayed = [await stream.next(), await stream.next(), await stream.next()];
      assert.deepEqual(replayed.map((e) => data(e).payload), ['one', 'two', 'three']);
      stream.close();
      const byClient = await root.call('POST', '/api/message/acknowledge', { user_id: 'bea', message_ids: [replayed[0]!.id] }, client);
      assert.deepEqual(byClient, { status: 200, json: { acknowledged: 1 } });
      const streamToken = await root.streamToken('bea');
      const byUser = await root.call('POST', '/api/message/acknowledge', { message_ids: [Number(replayed[1]!.id), replayed[0]!.id] }, streamToken);
      assert.deepEqual(byUser.json, { acknowledged: 1 }, 'an id acknowledged twice counts once');
      stream = await open(`${server.url}/sse?token=${streamToken}`);
      assert.deepEqual(data(await stream.next()).payload, 'three');
      await assert.rejects(stream.next(300));
    });

    test('Last-Event-ID resumes after the last event the browser saw', async () => {
      for (const payload of ['a', 'b', 'c']) await root.call('POST', '/api/message/notify', { users: ['cy'], payload }, client);
      const token = await root.streamToken('cy');
      const first = await open(`${server.url}/sse?token=${token}`);
      const [, b] = [await first.next(), await first.next(), await first.next()];
      first.close();
      const resumed = await open(`${server.url}/sse?token=${token}`, { 'last-event-id': b!.id! });
      assert.equal(data(await resumed.next()).payload, 'c');
      await assert.rejects(resumed.next(300));
    });

    test("a stream token acknowledges only its own user's notifications", async () => {
      await root.call('POST', '/api/message/notify', { users: ['dan'], payload: 'for dan' }, client);
      const danStream = await open(`${server.url}/sse?token=${await root.streamToken('dan')}`);
      const id = (await danStream.next()).id!;
      const eveToken = await root.streamToken('eve');
      assert.deepEqual((await root.call('POST', '/api/message/acknowledge', { message_ids: [id] }, eveToken)).json, { acknowledged: 0 });
      const spoof = await root.call('POST', '/api/message/acknowledge', { user_id: 'dan', message_ids: [id] }, eveToken);
      assert.equal(spoof.status, 403);
      const again = await open(`${server.url}/sse?token=${await root.streamToken('dan')}`);
      assert.equal((await again.next()).id, id, 'still pending for dan');
    });

    test('groups: every member gets it once, also when named directly', async () => {
      await root.call('POST', '/api/group', { group_id: 'team', users: ['fay', 'gus'] }, client);
      const fay = await open(`${server.url}/sse?token=${await root.streamToken('fay')}`);
      const gus = await open(`${server.url}/sse?token=${await root.streamToken('gus')}`);
      await fay.next();
      await gus.next();
      const sent = await root.call('POST', '/api/message/notify', { users: ['fay'], groups: ['team', 'no-such-group'], payload: 'standup' }, client);
      assert.deepEqual(sent.json, { recipients: 2 });
      assert.equal(data(await fay.next()).payload, 'standup');
      assert.equal(data(await gus.next()).payload, 'standup');
      await assert.rejects(fay.next(300), /no event/, 'fay got it once');
    });

    test('a notify on one listener reaches a stream opened on another', async () => {
      const started = server.logs.find((line) => line.event === 'server.started') as { listening: string[] };
      const other = `http://${started.listening[1]}`;
      const stream = await open(`${other}/sse?token=${await root.streamToken('hank')}`);
      await stream.next();
      await root.call('POST', '/api/message/notify', { users: ['hank'], payload: 'across' }, client);
      assert.equal(data(await stream.next()).payload, 'across');
    });

    test('bad input', async () => {
      const cases: [unknown, number, unknown][] = [
        [{ payload: 'x' }, 400, { error: 'Destiny is required' }],
        [{ users: null, groups: null, payload: 'x' }, 400, { error: 'Destiny is required' }],
        [{ users: ['a'] }, 400, { error: 'Validation error', detail: { payload: 'Payload cannot be empty' } }],
        [{ users: ['a'], payload: '' }, 400, { error: 'Validation error', detail: { payload: 'Payload cannot be empty' } }],
        [{ users: 'a', payload: 'x' }, 400, { error: 'Validation error', detail: { users: 'Users must be a list of strings' } }],
        [{ groups: [1], payload: 'x' }, 400, { error: 'Validation error', detail: { groups: 'Groups must be a list of strings' } }],
        [{ users: ['bad name'], payload: 'x' }, 400, undefined],
        [[1, 2], 400, { error: 'Destiny is required' }],
      ];
      for (const [body, status, json] of cases) {
        const answer = await root.call('POST', '/api/message/notify', body, client);
        assert.equal(answer.status, status, JSON.stringify(body));
        if (json) assert.deepEqual(answer.json, json, JSON.stringify(body));
      }
      const empty = await root.call('POST', '/api/message/notify', { users: [], groups: [], payload: 'x' }, client);
      assert.deepEqual(empty, { status: 202, json: { recipients: 0 } }, 'empty lists pass and reach nobody');
      for (const ids of [undefined, [], ['x'], [-1], [1.5], Array(1001).fill(1)]) {
        const answer = await root.call('POST', '/api/message/acknowledge', { user_id: 'alice', message_ids: ids }, client);
        assert.equal(answer.status, 400, JSON.stringify(ids)?.slice(0, 40));
      }
      assert.equal((await root.call('POST', '/api/message/acknowledge', { user_id: 'ghost', message_ids: [1] }, client)).status, 404);
      const invalidUtf8 = await fetch(`${server.url}/api/message/notify`, {
        method: 'POST',
        headers: { authorization: `Bearer ${client}`, 'content-type': 'application/json' },
        body: Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x7d]),
      });
      assert.equal(invalidUtf8.status, 400);
      assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
    });

    test('stream errors: no identity 400, bad token 401, user_id without the switch 401', async () => {
      const missing = await fetch(`${server.url}/sse`);
      assert.deepEqual([missing.status, await missing.json()], [400, { error: 'Missing token' }]);
      const bad = await fetch(`${server.url}/sse?token=garbage`);
      assert.deepEqual([bad.status, await bad.json()], [401, { error: 'Invalid token' }]);
      const insecure = await fetch(`${server.url}/sse?user_id=ricardo`);
      assert.deepEqual([insecure.status, await insecure.json()], [401, { error: 'Invalid token' }]);
      const clientAsStream = await fetch(`${server.url}/sse?token=${client}`);
      assert.equal(clientAsStream.status, 401, 'a client token is not a stream token');
      const test = await fetch(`${server.url}/notify?user_id=ricardo`);
      assert.equal(test.status, 404, 'the unauthenticated test route is off');
    });

    test('a stream that does not read is dropped, and the others keep receiving', async () => {
      const token = await root.streamToken('slow');
      const slow = net.connect(server.port, '127.0.0.1');
      await new Promise((resolve) => slow.once('connect', resolve));
      slow.write(`GET /sse?token=${token} HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n`);
      slow.pause();
      const fast = await open(`${server.url}/sse?token=${await root.streamToken('fast')}`);
      await fast.next();
      const payload = 'x'.repeat(60_000);
      let dropped = false;
      for (let i = 0; i < 400 && !dropped; i++) {
        await root.call('POST', '/api/message/notify', { users: ['slow', 'fast'], payload }, client);
        assert.equal(data(await fast.next()).payload, payload);
        dropped = server.logs.some((line) => line.event === 'notify.stream_closed' && /send queue full/.test(String(line.reason)));
      }
      assert.ok(dropped, 'the slow stream was dropped with its reason');
      slow.destroy();
    });
  });
});

describe('notify in --demo: the seed test client', () => {
  test('new EventSource("/sse?user_id=ricardo") gets a ping, then what is sent to ricardo', async () => {
    const { dir, server } = await startWithClient(['--demo', '--listen', '127.0.0.1:0']);
    const source = new EventSource(`${server.url}/sse?user_id=ricardo`);
    try {
      const received: string[] = [];
      const arrived = (n: number) =>
        new Promise<void>((resolve) => {
          const check = () => (received.length >= n ? resolve() : setTimeout(check, 20));
          check();
        });
      source.onmessage = (e) => received.push(e.data);
      await arrived(1);
      assert.deepEqual(JSON.parse(received[0]!), { id: '', payload: 'ping', read: false });
      const seed = api(server.url);
      await seed.call('POST', '/api/message/notify', { users: ['ricardo'], payload: 'hi' }, await seed.clientToken());
      await arrived(2);
      assert.equal(JSON.parse(received[1]!).payload, 'hi');
      const legacy = await fetch(`${server.url}/notify?user_id=ricardo`);
      assert.equal(legacy.status, 204, 'the first commits\' test route sends Hello, world!');
      await arrived(3);
      assert.equal(JSON.parse(received[2]!).payload, 'Hello, world!');
    } finally {
      source.close();
      await server.stop();
      await dir.remove();
    }
  });
});

describe('notify options', () => {
  test('--no-legacy-routes keeps only /notify/...', async () => {
    const { dir, server } = await startWithClient(['--no-legacy-routes']);
    try {
      const atRoot = await fetch(`${server.url}/api/auth/token`, { method: 'POST', body: '{}' });
      assert.equal(atRoot.status, 404);
      const canonical = await api(`${server.url}/notify`).call('POST', '/api/auth/token', { client_id: 'backend', client_secret: clientSecret });
      assert.equal(canonical.status, 200);
    } finally {
      await server.stop();
      await dir.remove();
    }
  });

  test('failed client logins are limited per client and per address', async () => {
    const { dir, server } = await startWithClient([], { FLASHHUB_LOGIN_ATTEMPTS_PER_MINUTE: '3' });
    try {
      const root = api(server.url);
      for (let i = 0; i < 3; i++) {
        assert.equal((await root.call('POST', '/api/auth/token', { client_id: 'backend', client_secret: `wrong-${i}` })).status, 400);
      }
      const limited = await fetch(`${server.url}/api/auth/token`, { method: 'POST', body: JSON.stringify({ client_id: 'backend', client_secret: clientSecret }) });
      assert.equal(limited.status, 429, 'even the right secret waits once the limit is reached');
      assert.ok(Number(limited.headers.get('retry-after')) >= 1);
      assert.deepEqual(await limited.json(), { error: 'Too many attempts, try again later' });
    } finally {
      await server.stop();
      await dir.remove();
    }
  });

  test('a stream is closed when its token expires', async () => {
    const { dir, server } = await startWithClient([], { FLASHHUB_STREAM_TOKEN_TTL: '5' });
    try {
      const root = api(server.url);
      const stream = await openSse(`${server.url}/sse?token=${await root.streamToken('tess')}`);
      await stream.next();
      const opened = Date.now();
      await stream.ended;
      assert.ok(Date.now() - opened > 3000, 'not before the token expired');
      await waitForLog(server, (line) => line.event === 'notify.stream_closed' && line.reason === 'token expired');
    } finally {
      await server.stop();
      await dir.remove();
    }
  });
});
