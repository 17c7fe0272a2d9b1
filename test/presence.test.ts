// Hub presence (seed 001) over real WebSockets: HELLO with both token modes, messages to every socket
// of a user, online broadcasts and subscriptions, GOODBYE, bad and oversized frames, the heartbeat.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, afterEach, before, describe, test } from 'node:test';
import { runCli, startFlashhub, tempDir, type RunningFlashhub } from './support/flashhub.ts';
import { openSse } from './support/sse.ts';
import { connectWs, type WsClient } from './support/ws.ts';

const password = 'start123';
const isOnlineList = (frame: { type?: string }) => frame.type === 'online';

async function oauthToken(base: string, username: string, pass = password) {
  const response = await fetch(`${base}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json;charset=UTF-8' },
    body: JSON.stringify({ client_id: '1', client_secret: 'non-secret', grant_type: 'password', username, password: pass, scope: '*' }),
  });
  return { status: response.status, json: (await response.json()) as any };
}

describe('presence', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let server: RunningFlashhub;
  let wsUrl: string;
  const ids: Record<string, number> = {};
  const tokens: Record<string, string> = {};
  const sockets: WsClient[] = [];
  // Every socket a test opened is closed, and its close seen, before the next test: a late offline
  // change would otherwise land in the next test's expectations.
  afterEach(async () => {
    const open = sockets.splice(0);
    for (const socket of open) socket.close();
    await Promise.all(open.map((socket) => socket.closed));
    await new Promise((resolve) => setTimeout(resolve, 50));
  });

  const open = async (path = '/presence/ws', options = {}) => {
    const client = await connectWs(`${wsUrl}${path}`, options);
    sockets.push(client);
    return client;
  };
  const hello = async (name: string, path?: string) => {
    const client = await open(path);
    client.send({ type: 'HELLO', userid: ids[name], accesstoken: tokens[name], reqId: `hello-${name}` });
    const reply = await client.next((f) => f.type === 'HELLO');
    assert.equal(reply.ok, true, JSON.stringify(reply));
    return client;
  };

  before(async () => {
    dir = await tempDir();
    for (const name of ['ann', 'ben', 'cat', 'dee']) await runCli(['user', 'add', name, '--name', `${name} Smith`, '--password', password, '--data', dir.path]);
    await runCli(['client', 'add', 'backend', '--secret', 'backend-secret-0123456789', '--data', dir.path]);
    server = await startFlashhub(['--data', dir.path], { env: { FLASHHUB_FRAME_LIMIT: '4096' } });
    wsUrl = server.url.replace('http', 'ws');
    for (const name of ['ann', 'ben', 'cat', 'dee']) {
      const { status, json } = await oauthToken(server.url, name);
      assert.equal(status, 200);
      tokens[name] = json.access_token;
      ids[name] = (await (await fetch(`${server.url}/users/me`, { headers: { authorization: `Bearer ${json.access_token}` } })).json() as any).data.id;
    }
  });
  after(async () => {
    await server.stop();
    await dir.remove();
  });

  describe("the seed's identity API, served locally", () => {
    test('POST /oauth/token: password grant in the seed\'s request shape', async () => {
      const { status, json } = await oauthToken(server.url, 'ann');
      assert.equal(status, 200);
      assert.deepEqual(Object.keys(json), ['token_type', 'expires_in', 'access_token']);
      assert.equal(json.token_type, 'Bearer');
      assert.equal(json.expires_in, 7200);
      const wrong = await oauthToken(server.url, 'ann', 'nope');
      assert.equal(wrong.status, 400);
      assert.equal(wrong.json.error, 'invalid_grant');
      const unknown = await oauthToken(server.url, 'nobody');
      assert.equal(unknown.json.error, 'invalid_grant', 'unknown users look like wrong passwords');
      const grant = await fetch(`${server.url}/oauth/token`, { method: 'POST', body: JSON.stringify({ grant_type: 'client_credentials' }) });
      assert.equal(((await grant.json()) as any).error, 'unsupported_grant_type');
      const missing = await fetch(`${server.url}/presence/oauth/token`, { method: 'POST', body: JSON.stringify({ grant_type: 'password' }) });
      assert.deepEqual([missing.status, ((await missing.json()) as any).error], [400, 'invalid_request']);
    });

    test('GET /users/me and /api/v2/users/me: {"data": user} for a valid token, 403 otherwise', async () => {
      for (const path of ['/users/me', '/api/v2/users/me', '/presence/users/me']) {
        const ok = await fetch(`${server.url}${path}`, { headers: { authorization: `Bearer ${tokens.ann}` } });
        assert.equal(ok.status, 200, path);
        assert.deepEqual(await ok.json(), { data: { id: ids.ann, email: 'ann', firstName: 'ann', lastName: 'Smith', avatar: { small: null } } });
        for (const headers of [{}, { authorization: 'Bearer nonsense' }] as Record<string, string>[]) {
          const refused = await fetch(`${server.url}${path}`, { headers });
          assert.deepEqual([refused.status, await refused.json()], [403, { error: 'Forbidden' }]);
        }
      }
    });
  });

  describe('HELLO', () => {
    test('binds the socket, replies with the user, then the online list', async () => {
      const client = await open();
      client.send({ type: 'HELLO', userid: ids.ann, accesstoken: tokens.ann, reqId: 7 });
      const reply = await client.next();
      assert.deepEqual(reply, { type: 'HELLO', ok: true, userid: ids.ann, user: { id: ids.ann, email: 'ann', firstName: 'ann', lastName: 'Smith', avatar: { small: null } }, reqId: 7 });
      assert.deepEqual((await client.next()).users.includes(ids.ann), true);
      client.close();
    });

    test('refuses bad tokens, a userid that is not the token\'s, and a missing token; the socket stays open', async () => {
      const client = await open();
      for (const [frame, error] of [
        [{ type: 'HELLO', userid: ids.ann, accesstoken: 'garbage' }, 'invalid token'],
        [{ type: 'HELLO', userid: ids.ben, accesstoken: tokens.ann }, 'userid mismatch'],
        [{ type: 'HELLO', userid: ids.ann }, 'missing accesstoken'],
      ] as const) {
        client.send(frame);
        assert.deepEqual(await client.next(), { type: 'HELLO', ok: false, error });
      }
      client.send({ type: 'ping' });
      assert.deepEqual(await client.next(), { type: 'pong' });
      client.close();
    });

    test('calls before HELLO get an error frame', async () => {
      const client = await open();
      for (const type of ['sendMessageToUser', 'subscribeOnlineStatus', 'GOODBYE', 'getAllOnline']) {
        client.send({ type, reqId: type });
        assert.deepEqual(await client.next(), { type, ok: false, error: 'not authenticated', reqId: type });
      }
      client.close();
    });

    test("it-coral's USER_HELLO_EVENT {userToken} works as HELLO", async () => {
      const client = await open('/ws/presence');
      client.send({ event: 'USER_HELLO_EVENT', data: { userToken: tokens.dee, fromDevice: 'mobile' } });
      const reply = await client.next((f) => f.type === 'HELLO');
      assert.equal(reply.ok, true);
      assert.equal(reply.user.firstName, 'dee');
      client.close();
    });
  });

  describe('online broadcasts, GOODBYE, close', () => {
    test('every HELLO\'d socket gets the list on each change; a second device changes nothing', async () => {
      const ann = await hello('ann');
      await ann.next((f) => isOnlineList(f) && f.users.includes(ids.ann));
      const ben = await hello('ben', '/presence');
      const both = (f: any) => isOnlineList(f) && f.users.includes(ids.ann) && f.users.includes(ids.ben);
      await ann.next(both);
      await ben.next(both);
      const benPhone = await hello('ben');
      await benPhone.next(both);
      await ann.nothing(isOnlineList);

      benPhone.close();
      await benPhone.closed;
      await ann.nothing(isOnlineList, 300);

      ben.send({ type: 'GOODBYE', reqId: 'bye' });
      assert.deepEqual(await ben.next((f) => f.type === 'GOODBYE'), { type: 'GOODBYE', ok: true, reqId: 'bye' });
      const annAlone = await ann.next(isOnlineList);
      assert.ok(!annAlone.users.includes(ids.ben), 'GOODBYE on the last socket is an offline change');
      ben.send({ type: 'ping' });
      assert.deepEqual(await ben.next((f) => f.type === 'pong'), { type: 'pong' }, 'the socket stays open after GOODBYE');
      await ben.nothing(isOnlineList, 200);

      const unauthenticated = await open();
      const cat = await hello('cat');
      await ann.next((f) => isOnlineList(f) && f.users.includes(ids.cat));
      await unauthenticated.nothing(isOnlineList, 200);
      cat.close();
      const afterClose = await ann.next(isOnlineList);
      assert.ok(!afterClose.users.includes(ids.cat), 'closing the last socket is an offline change');
      ann.close();
      ben.close();
      unauthenticated.close();
    });

    test('getAllOnline answers the requester only, sorted', async () => {
      const ann = await hello('ann');
      const ben = await hello('ben');
      await ann.next((f) => isOnlineList(f) && f.users.includes(ids.ben));
      await ben.next(isOnlineList);
      ann.send({ type: 'getAllOnline', reqId: 'q' });
      const reply = await ann.next((f) => f.type === 'getAllOnline');
      assert.equal(reply.ok, true);
      assert.equal(reply.reqId, 'q');
      assert.deepEqual(reply.users, [...reply.users].sort((a: number, b: number) => a - b));
      assert.ok(reply.users.includes(ids.ann) && reply.users.includes(ids.ben));
      await ben.nothing((f) => f.type === 'getAllOnline');
      ann.close();
      ben.close();
      await ben.closed;
    });

    test('online means a live connection on any hub: a notify stream makes its user online here', async () => {
      const watcher = await hello('ann');
      await watcher.next(isOnlineList);
      const tokenAnswer = await fetch(`${server.url}/api/auth/token`, { method: 'POST', body: JSON.stringify({ client_id: 'backend', client_secret: 'backend-secret-0123456789' }) });
      const client = ((await tokenAnswer.json()) as any).access_token;
      const streamToken = ((await (await fetch(`${server.url}/api/user/dee/token`, { headers: { authorization: `Bearer ${client}` } })).json()) as any).access_token;
      const stream = await openSse(`${server.url}/sse?token=${streamToken}`);
      await watcher.next((f) => isOnlineList(f) && f.users.includes(ids.dee));
      const online = await fetch(`${server.url}/presence/online`, { headers: { authorization: `Bearer ${client}` } });
      assert.ok(((await online.json()) as any).users.includes(ids.dee));
      assert.equal((await fetch(`${server.url}/presence/online`)).status, 401);
      assert.equal((await fetch(`${server.url}/presence/online`, { headers: { authorization: `Bearer ${tokens.ann}` } })).status, 401, 'a user token is not for backends');
      stream.close();
      await watcher.next((f) => isOnlineList(f) && !f.users.includes(ids.dee));
      watcher.close();
    });
  });

  describe('sendMessageToUser', () => {
    test('reaches every socket of the user, and not the sender', async () => {
      const ann = await hello('ann');
      const benLaptop = await hello('ben');
      const benPhone = await hello('ben');
      ann.send({ type: 'sendMessageToUser', id: ids.ben, message: { text: 'hi', n: 1 }, reqId: 'm1' });
      assert.deepEqual(await ann.next((f) => f.type === 'sendMessageToUser'), { type: 'sendMessageToUser', ok: true, delivered: 2, reqId: 'm1' });
      for (const socket of [benLaptop, benPhone]) {
        assert.deepEqual(await socket.next((f) => f.type === 'message'), { type: 'message', from: ids.ann, message: { text: 'hi', n: 1 } });
      }
      await ann.nothing((f) => f.type === 'message');
      ann.send({ type: 'sendMessageToUser', id: 999999, message: 'anyone?' });
      assert.equal((await ann.next((f) => f.type === 'sendMessageToUser')).delivered, 0);
      ann.send({ type: 'sendMessageToUser', id: 'ben', message: 'x' });
      assert.equal((await ann.next((f) => f.type === 'sendMessageToUser')).error, 'id must be a user id');
      for (const socket of [ann, benLaptop, benPhone]) socket.close();
    });
  });

  describe('subscribeOnlineStatus', () => {
    test('sends onlineStatus changes until unsubscribed', async () => {
      const ann = await hello('ann');
      ann.send({ type: 'subscribeOnlineStatus', reqId: 's' });
      const subscribed = await ann.next((f) => f.type === 'subscribeOnlineStatus');
      assert.equal(subscribed.ok, true);
      assert.ok(Array.isArray(subscribed.users));
      const cat = await hello('cat');
      const aboutCat = (f: any) => f.type === 'onlineStatus' && f.userid === ids.cat;
      assert.deepEqual(await ann.next(aboutCat), { type: 'onlineStatus', userid: ids.cat, online: true });
      cat.close();
      assert.deepEqual(await ann.next(aboutCat), { type: 'onlineStatus', userid: ids.cat, online: false });
      ann.send({ type: 'unsubscribeOnlineStatus' });
      await ann.next((f) => f.type === 'unsubscribeOnlineStatus');
      const again = await hello('cat');
      await ann.nothing((f) => f.type === 'onlineStatus', 300);
      again.close();
      ann.close();
    });
  });

  describe('bad input and limits', () => {
    test('bad JSON, unknown types and binary frames get an error frame and the socket stays open', async () => {
      const client = await open();
      client.send('{not json');
      assert.deepEqual(await client.next(), { type: 'error', error: 'invalid JSON' });
      client.send({ type: 'teleport', reqId: 'x' });
      assert.deepEqual(await client.next(), { type: 'error', error: 'unknown type', reqId: 'x' });
      client.ws.send(Buffer.from([1, 2, 3]), { binary: true });
      assert.deepEqual(await client.next(), { type: 'error', error: 'binary frames are not supported' });
      client.send({ type: 'hey' });
      assert.deepEqual(await client.next(), { type: 'yes' });
      client.close();
    });

    test('a frame over the limit closes the socket with 1009', async () => {
      const client = await open();
      client.send({ type: 'ping', pad: 'x'.repeat(5000) });
      assert.deepEqual(await client.closed, { code: 1009, reason: 'frame too large' });
    });

    test('a foreign Origin is refused before the upgrade; the own origin is fine', async () => {
      await assert.rejects(open('/presence/ws', { origin: 'https://evil.example' }), (error: { status?: number }) => error.status === 403);
      const own = await open('/presence/ws', { origin: server.url });
      own.close();
    });

    test('an unknown WebSocket path gets 404', async () => {
      await assert.rejects(open('/nope/ws'), (error: { status?: number }) => error.status === 404);
    });
  });
});

describe('presence heartbeat', () => {
  // Its own server: a one-second heartbeat would drop slow clients of the other tests on a busy machine.
  test('a socket that does not answer pings is dropped; one that does stays', async () => {
    const dir = await tempDir();
    const server = await startFlashhub(['--data', dir.path], { env: { FLASHHUB_WS_HEARTBEAT: '1' } });
    try {
      const url = `${server.url.replace('http', 'ws')}/presence/ws`;
      const dead = await connectWs(url, { autoPong: false });
      const alive = await connectWs(url);
      assert.deepEqual(await dead.closed, { code: 1001, reason: 'no answer to ping' });
      alive.send({ type: 'ping' });
      assert.deepEqual(await alive.next(), { type: 'pong' });
      alive.close();
    } finally {
      await server.stop();
      await dir.remove();
    }
  });
});

describe('presence with an external identity endpoint (seed 001 production)', () => {
  test('200 with an id is valid, 403 is not, silence is not; answers are cached', async () => {
    const calls: string[] = [];
    const identity = http.createServer((request, response) => {
      const token = (request.headers.authorization ?? '').replace('Bearer ', '');
      calls.push(token);
      if (token === 'ext-good') return response.end(JSON.stringify({ data: { id: 4242, firstName: 'Vera', lastName: 'V' } }));
      if (token === 'ext-top-level') return response.end(JSON.stringify({ id: 4343 }));
      if (token === 'ext-slow') return; // never answers
      response.statusCode = 403;
      response.end('{}');
    });
    await new Promise<void>((resolve) => identity.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(identity.address() as AddressInfo).port}/users/me`;
    const dir = await tempDir();
    const server = await startFlashhub(['--data', dir.path], { env: { FLASHHUB_PRESENCE_AUTH_URL: url, FLASHHUB_PRESENCE_AUTH_TIMEOUT: '1' } });
    const wsUrl = `${server.url.replace('http', 'ws')}/presence/ws`;
    try {
      const client = await connectWs(wsUrl);
      const helloWith = async (accesstoken: string, userid?: number) => {
        client.send({ type: 'HELLO', accesstoken, userid });
        return client.next((f) => f.type === 'HELLO', 4000);
      };
      const good = await helloWith('ext-good', 4242);
      assert.deepEqual(good, { type: 'HELLO', ok: true, userid: 4242, user: { id: 4242, firstName: 'Vera', lastName: 'V' } });
      assert.deepEqual((await client.next(isOnlineList)).users, [4242]);
      assert.equal((await helloWith('ext-good', 4242)).ok, true);
      assert.equal(calls.filter((t) => t === 'ext-good').length, 1, 'the second HELLO was answered from the cache');
      assert.equal((await helloWith('ext-top-level')).userid, 4343);
      assert.deepEqual(await helloWith('ext-forbidden'), { type: 'HELLO', ok: false, error: 'invalid token' });
      const started = Date.now();
      assert.deepEqual(await helloWith('ext-slow'), { type: 'HELLO', ok: false, error: 'invalid token' });
      assert.ok(Date.now() - started < 3000, 'a silent endpoint times out');
      assert.equal((await helloWith('ext-good', 1)).error, 'userid mismatch');
      client.close();
    } finally {
      await server.stop();
      await dir.remove();
      identity.closeAllConnections();
      identity.close();
    }
  });
});
