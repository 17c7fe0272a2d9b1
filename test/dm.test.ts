// Hub dm (seed 004) over real sockets: the seed README's requests, the seed's Go client (Authorization
// without a space, raw text frames), fan-out, offline delivery and resume (also across restarts and a
// kill -9), history paging, rate limits, limits and bad input.
import assert from 'node:assert/strict';
import http from 'node:http';
import type net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { runCli, startFlashhub, tempDir, waitForLog, type RunningFlashhub } from './support/flashhub.ts';
import { connectWs, upgrade, type WsClient } from './support/ws.ts';

const password = 'secret';

interface Answer {
  status: number;
  json: any;
  headers: Headers;
}

async function call(base: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    redirect: 'manual',
  });
  const text = await response.text();
  return { status: response.status, json: text ? JSON.parse(text) : undefined, headers: response.headers };
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

async function register(base: string, username: string, name = `${username} Name`): Promise<string> {
  const { status, json } = await call(base, 'POST', '/dm/register', { name, username, password });
  assert.equal(status, 200, JSON.stringify(json));
  return json.content.token;
}

function claims(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString());
}


/** POST from a given local address (127.0.0.x), to test per-address limits. */
function postFrom(localAddress: string, port: number, path: string, body: unknown): Promise<{ status: number; json: any; retryAfter?: string }> {
  return new Promise((resolve, reject) => {
    const request = http.request({ host: '127.0.0.1', port, path, method: 'POST', localAddress, headers: { 'content-type': 'application/json' } }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk) => (text += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, json: JSON.parse(text), retryAfter: response.headers['retry-after'] as string | undefined }));
    });
    request.on('error', reject);
    request.end(JSON.stringify(body));
  });
}

const isMessage = (frame: any) => typeof frame === 'object' && typeof frame.body === 'string';

describe('dm', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let server: RunningFlashhub;
  let wsUrl: string;
  const sockets: WsClient[] = [];

  const open = async (path: string, token?: string, headers: Record<string, string> = {}) => {
    const client = await connectWs(`${wsUrl}${path}`, { headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers } });
    sockets.push(client);
    return client;
  };

  before(async () => {
    dir = await tempDir();
    server = await startFlashhub(['--data', dir.path], {
      env: { JWT_EXP: '60', FLASHHUB_FRAME_LIMIT: '4096', FLASHHUB_CONNECTIONS_PER_USER: '3', FLASHHUB_ORIGINS: 'https://app.example' },
    });
    wsUrl = server.url.replace('http', 'ws');
  });
  after(async () => {
    sockets.forEach((socket) => socket.close());
    await server.stop();
    await dir.remove();
  });

  describe("the seed README's requests", () => {
    test('POST /register, POST /login, GET /users, then a chat on /chats/:username', async () => {
      const registered = await call(server.url, 'POST', '/register', { name: 'Parsa', username: 'apm', password: 'secret' });
      assert.equal(registered.status, 200);
      assert.deepEqual(Object.keys(registered.json), ['code', 'message', 'content']);
      assert.equal(registered.json.code, '200');
      assert.equal(registered.json.message, 'welcome Parsa');
      assert.deepEqual(Object.keys(registered.json.content), ['token']);
      assert.equal((await call(server.url, 'POST', '/register', { name: 'Parham', username: 'popo', password: 'secret' })).status, 200);

      // The README's login body also carries the name, which the seed ignored.
      const login = await call(server.url, 'POST', '/login', { name: 'Parsa', username: 'apm', password: 'secret' });
      assert.equal(login.status, 200);
      assert.equal(login.json.code, '200');
      assert.equal(login.json.message, '');
      const apm = login.json.content.token as string;
      const popo = (await call(server.url, 'POST', '/login', { username: 'popo', password: 'secret' })).json.content.token as string;

      const header = JSON.parse(Buffer.from(apm.split('.')[0]!, 'base64url').toString());
      assert.equal(header.alg, 'HS256');
      const payload = claims(apm);
      assert.equal(payload.email, 'apm', "seed 004's email claim is the username");
      assert.equal((payload.exp as number) - (payload.iat as number), 3600, 'JWT_EXP=60 minutes');

      const users = await call(server.url, 'GET', '/users', undefined, bearer(apm));
      assert.equal(users.status, 200);
      assert.equal(users.json.code, '200');
      assert.deepEqual(users.json.content.slice(0, 2), [{ name: 'Parsa', username: 'apm' }, { name: 'Parham', username: 'popo' }]);

      const popoSocket = await open('/chats/apm', popo);
      const apmSocket = await open('/chats/popo', apm);
      const before = Math.floor(Date.now() / 1000);
      apmSocket.send('hello world!');
      const frame = await popoSocket.next();
      assert.deepEqual(Object.keys(frame), ['from', 'body', 'sent_at', 'to', 'id']);
      assert.equal(frame.from, 'apm');
      assert.equal(frame.body, 'hello world!');
      assert.ok(Number.isInteger(frame.sent_at) && frame.sent_at >= before && frame.sent_at <= before + 5, `sent_at ${frame.sent_at} in unix seconds`);
      assert.equal(frame.to, 'popo');
      assert.equal(frame.id, 1);
      await apmSocket.nothing();
      popoSocket.close();
      apmSocket.close();
    });
  });

  describe('POST /register', () => {
    test('validation errors are 422 envelopes with a clear message', async () => {
      const cases: [unknown, RegExp][] = [
        ['', /^request body is empty/],
        ['{"name":', /^invalid JSON/],
        ['[1,2]', /^request body is not a JSON object/],
        ['"text"', /^request body is not a JSON object/],
        [{}, /^name is required; username is required; password is required$/],
        [{ name: 'A', username: 'val1', password: 7 }, /^password must be a string$/],
        [{ name: 'A', username: 'bad name', password }, /^a username has 1 to 64 letters/],
        [{ name: 'A', username: 'val2', password: 'ab' }, /^a password has 3 to 1024 characters$/],
        [{ name: 'x'.repeat(101), username: 'val3', password }, /^a name has 1 to 100 characters/],
      ];
      for (const [body, message] of cases) {
        const { status, json } = await call(server.url, 'POST', '/register', body);
        assert.equal(status, 422, JSON.stringify(body));
        assert.equal(json.code, '422');
        assert.match(json.message, message);
        assert.equal(json.content, null);
      }
    });

    test('real names are fine (the seed took letters only); a taken username is 400, whatever its case', async () => {
      const registered = await call(server.url, 'POST', '/dm/register', { name: 'Zoë van der Berg', username: 'zoe', password });
      assert.equal(registered.json.message, 'welcome Zoë van der Berg');
      const again = await call(server.url, 'POST', '/register', { name: 'Other', username: 'ZOE', password });
      assert.deepEqual([again.status, again.json], [400, { code: '400', message: 'user already exists', content: null }]);
    });
  });

  describe('POST /login', () => {
    test("the seed's 400s; a missing field is 422", async () => {
      await register(server.url, 'lin');
      const wrong = await call(server.url, 'POST', '/dm/login', { username: 'lin', password: 'nope' });
      assert.deepEqual([wrong.status, wrong.json], [400, { code: '400', message: 'wrong credentials', content: null }]);
      const unknown = await call(server.url, 'POST', '/login', { username: 'nobody-here', password: 'nope' });
      assert.deepEqual([unknown.status, unknown.json], [400, { code: '400', message: 'user not found', content: null }]);
      const missing = await call(server.url, 'POST', '/dm/login', { username: 'lin' });
      assert.deepEqual([missing.status, missing.json.message], [422, 'password is required']);
      const ok = await call(server.url, 'POST', '/dm/login', { username: 'LIN', password });
      assert.equal(ok.status, 200, 'usernames match whatever their case');
    });

    test('an account made with `flashhub user add` logs in, chats, and is listed', async () => {
      const added = await runCli(['user', 'add', 'cliuser', '--name', 'Cli User', '--password', 'cli-pass', '--data', dir.path]);
      assert.equal(added.code, 0, added.stderr);
      const login = await call(server.url, 'POST', '/dm/login', { username: 'cliuser', password: 'cli-pass' });
      assert.equal(login.status, 200);
      const token = login.json.content.token;
      const users = await call(server.url, 'GET', '/dm/users', undefined, bearer(token));
      assert.ok(users.json.content.some((user: any) => user.username === 'cliuser' && user.name === 'Cli User'));
      const friend = await register(server.url, 'clifriend');
      const friendSocket = await open('/chats/cliuser', friend);
      const socket = await open('/dm/chats/clifriend', token);
      socket.send('from the CLI account');
      assert.equal((await friendSocket.next()).from, 'cliuser');
      socket.close();
      friendSocket.close();
    });
  });

  describe('GET /users', () => {
    test('with "Bearer <t>", "Bearer<t>" and a bare token, at /users, /users/ and /dm/users, without a redirect', async () => {
      const token = await register(server.url, 'ulist');
      for (const path of ['/users', '/users/', '/dm/users', '/dm/users/']) {
        for (const authorization of [`Bearer ${token}`, `Bearer${token}`, token]) {
          const { status, json, headers } = await call(server.url, 'GET', path, undefined, { authorization });
          assert.equal(status, 200, `${path} ${authorization.slice(0, 8)}`);
          assert.equal(json.code, '200');
          assert.ok(json.content.some((user: any) => user.username === 'ulist'));
          assert.ok(json.content.every((user: any) => Object.keys(user).join() === 'name,username'), 'no ids, no password hashes');
          assert.equal(Number(headers.get('x-total-count')), json.content.length);
        }
      }
    });

    test("401 envelopes in the seed's words: no header, a bad token, a removed user", async () => {
      const missing = await call(server.url, 'GET', '/users');
      assert.deepEqual([missing.status, missing.json], [401, { code: '401', message: 'Authorization header is required', content: null }]);
      for (const authorization of ['Bearer nope', 'Bearer', 'Basic dXNlcjpwYXNz']) {
        const bad = await call(server.url, 'GET', '/users/', undefined, { authorization });
        assert.deepEqual([bad.status, bad.json.message], [401, 'unauthorized user'], authorization);
      }
      const token = await register(server.url, 'ugone');
      const socket = await open('/chats/ugone', token);
      const removed = await runCli(['user', 'remove', 'ugone', '--data', dir.path]);
      assert.equal(removed.code, 0, removed.stderr);
      const gone = await call(server.url, 'GET', '/users', undefined, bearer(token));
      assert.deepEqual([gone.status, gone.json.message], [401, 'user not found']);
      assert.deepEqual(await socket.closed, { code: 1008, reason: 'user removed' });
    });

    test('paged with ?limit= and ?offset=, in id order', async () => {
      const token = await register(server.url, 'upage');
      const all = (await call(server.url, 'GET', '/users', undefined, bearer(token))).json.content;
      const page = await call(server.url, 'GET', '/users?limit=2&offset=1', undefined, bearer(token));
      assert.deepEqual(page.json.content, all.slice(1, 3));
      assert.equal(Number(page.headers.get('x-total-count')), all.length);
      for (const query of ['limit=0', 'limit=1001', 'limit=x', 'offset=-1']) {
        const bad = await call(server.url, 'GET', `/users?${query}`, undefined, bearer(token));
        assert.equal(bad.status, 422, query);
      }
    });
  });

  describe('the chat socket', () => {
    test("the seed's Go client: Authorization: Bearer<t> without a space, raw text frames, never parsed", async () => {
      const gopher = await register(server.url, 'gopher');
      const peer = await register(server.url, 'gopeer');
      const peerSocket = await open('/chats/gopher', peer);
      const goClient = await connectWs(`${wsUrl}/chats/gopeer`, { headers: { Authorization: `Bearer${gopher}` } });
      sockets.push(goClient);
      goClient.send('hello!');
      goClient.send('{"type":"not a command"}');
      assert.deepEqual([(await peerSocket.next()).body, (await peerSocket.next()).body], ['hello!', '{"type":"not a command"}']);
      goClient.close();
      peerSocket.close();
    });

    test('fan-out: every socket of the peer, whatever chat it opened, and my other sockets; never the sending one', async () => {
      const [ann, bob, cat] = [await register(server.url, 'fan-ann'), await register(server.url, 'fan-bob'), await register(server.url, 'fan-cat')];
      const annToBob = await open('/chats/fan-bob', ann);
      const annToCat = await open('/chats/fan-cat', ann);
      const bobToAnn = await open('/chats/fan-ann', bob);
      const bobToCat = await open('/dm/chats/fan-cat', bob);
      const catToAnn = await open('/chats/fan-ann', cat);

      annToBob.send('hi bob');
      const expected = { from: 'fan-ann', body: 'hi bob', to: 'fan-bob', id: 1 };
      for (const socket of [bobToAnn, bobToCat, annToCat]) {
        const { sent_at: _sentAt, ...frame } = await socket.next();
        assert.deepEqual(frame, expected);
      }
      await annToBob.nothing();
      await catToAnn.nothing();

      bobToCat.send('hi cat');
      assert.deepEqual((await catToAnn.next()).body, 'hi cat', "cat's socket opened for ann still gets bob's message");
      assert.deepEqual((await bobToAnn.next()).to, 'fan-cat', "bob's other device, with a to that tells the chats apart");
      await annToBob.nothing();
      await annToCat.nothing();
      await bobToCat.nothing();
      for (const socket of [annToBob, annToCat, bobToAnn, bobToCat, catToAnn]) socket.close();
    });

    test('a chat with yourself reaches your other sockets only', async () => {
      const me = await register(server.url, 'self');
      const one = await open('/chats/self', me);
      const two = await open('/chats/self', me);
      one.send('note to self');
      assert.equal((await two.next()).body, 'note to self');
      await one.nothing();
      one.close();
      two.close();
    });

    test('browsers: ?token= and ?access_token=; Origin checked against the configured origins', async () => {
      const token = await register(server.url, 'browser');
      await register(server.url, 'browserpeer');
      for (const query of [`token=${token}`, `access_token=${token}`]) {
        const socket = await open(`/chats/browserpeer?${query}`, undefined, { origin: 'https://app.example' });
        socket.close();
      }
      const own = await open(`/chats/browserpeer?token=${token}`, undefined, { origin: server.url });
      own.close();
      const foreign = await upgrade(server.port, `/chats/browserpeer?token=${token}`, { Origin: 'https://evil.example' });
      assert.deepEqual(foreign, { status: 403, body: { code: '403', message: 'origin not allowed', content: null } });
    });

    test('refusals before the upgrade are plain HTTP answers with the envelope', async () => {
      const token = await register(server.url, 'refused');
      await register(server.url, 'refusedpeer');
      const cases: [string, Record<string, string>, number, string][] = [
        ['/chats/refusedpeer', {}, 401, 'Authorization header is required'],
        ['/chats/refusedpeer', { Authorization: 'Bearer garbage' }, 401, 'unauthorized user'],
        ['/dm/chats/refusedpeer?token=garbage', {}, 401, 'unauthorized user'],
        ['/chats/no-such-user', bearer(token), 404, 'user not found'],
        ['/chats/%E0%A4%A', bearer(token), 404, 'user not found'],
        ['/chats/refusedpeer?after=-1', bearer(token), 400, 'after must be a whole number, the id of the last message seen'],
      ];
      for (const [path, headers, status, message] of cases) {
        assert.deepEqual(await upgrade(server.port, path, headers), { status, body: { code: String(status), message, content: null } }, path);
      }
      assert.equal((await upgrade(server.port, '/chats/refusedpeer', bearer(token))).status, 101);
    });

    test('a plain GET of the chat path: 401 without a token, 400 with one', async () => {
      const token = await register(server.url, 'plainget');
      assert.equal((await call(server.url, 'GET', '/chats/plainget')).status, 401);
      const plain = await call(server.url, 'GET', '/chats/plainget', undefined, bearer(token));
      assert.equal(plain.status, 400);
      assert.equal(plain.json.code, '400');
    });

    test('binary frames are ignored, an empty message gets an error frame, and the socket stays open', async () => {
      const [me, peer] = [await register(server.url, 'badin'), await register(server.url, 'badinpeer')];
      const peerSocket = await open('/chats/badin', peer);
      const socket = await open('/chats/badinpeer', me);
      socket.ws.send(Buffer.from([1, 2, 3]), { binary: true });
      socket.send('');
      assert.deepEqual(await socket.next(), { code: '422', message: 'message is empty', content: null });
      socket.send('still here');
      assert.equal((await peerSocket.next()).body, 'still here');
      await peerSocket.nothing();
      socket.close();
      peerSocket.close();
    });

    test('a frame over the limit closes the socket with 1009 and says why', async () => {
      const [me] = [await register(server.url, 'big'), await register(server.url, 'bigpeer')];
      const socket = await open('/chats/bigpeer', me);
      socket.send('x'.repeat(5000));
      assert.deepEqual(await socket.closed, { code: 1009, reason: 'frame too large' });
    });

    test('the per-user connection limit refuses the next socket with 429', async () => {
      const me = await register(server.url, 'many');
      const open3 = [await open('/chats/many', me), await open('/chats/many', me), await open('/chats/many', me)];
      const refused = await upgrade(server.port, '/chats/many', bearer(me));
      assert.deepEqual(refused, { status: 429, body: { code: '429', message: 'too many connections for this user', content: null } });
      open3.forEach((socket) => socket.close());
    });
  });

  describe('offline delivery and resume', () => {
    test('what arrived while offline comes on connect, oldest first across chats, once; my own messages never come back', async () => {
      const [dave, erin, frank] = [await register(server.url, 'off-dave'), await register(server.url, 'off-erin'), await register(server.url, 'off-frank')];
      const erinSends = await open('/chats/off-dave', erin);
      const erinEcho = await open('/chats/off-frank', erin);
      const frankSends = await open('/chats/off-dave', frank);
      const frankEcho = await open('/chats/off-erin', frank);
      // Each send is stored before it is delivered, so the copy on the sender's other device means "stored".
      // Conversations are merged by their messages' millisecond timestamps, so the sends are kept
      // at least 2 ms apart: within one millisecond the order across chats is undefined.
      const say = async (from: WsClient, echo: WsClient, text: string) => {
        from.send(text);
        assert.equal((await echo.next()).body, text);
        await new Promise((resolve) => setTimeout(resolve, 2));
      };
      await say(erinSends, erinEcho, 'e1');
      await say(frankSends, frankEcho, 'f1');
      await say(erinSends, erinEcho, 'e2');
      await say(frankSends, frankEcho, 'f2');

      const daveSocket = await open('/chats/off-erin', dave);
      const missed = [await daveSocket.next(), await daveSocket.next(), await daveSocket.next(), await daveSocket.next()];
      assert.deepEqual(missed.map((f) => [f.from, f.body, f.to, f.id]), [
        ['off-erin', 'e1', 'off-dave', 1],
        ['off-frank', 'f1', 'off-dave', 1],
        ['off-erin', 'e2', 'off-dave', 2],
        ['off-frank', 'f2', 'off-dave', 2],
      ]);
      await daveSocket.nothing();

      // Live from now on.
      erinSends.send('e3');
      assert.equal((await daveSocket.next()).body, 'e3');
      daveSocket.close();
      await daveSocket.closed;

      const daveAgain = await open('/chats/off-frank', dave);
      await daveAgain.nothing(isMessage, 500);
      const erinLater = await open('/chats/off-dave', erin);
      await erinLater.nothing(isMessage, 300);
      for (const socket of [erinSends, erinEcho, frankSends, frankEcho, daveAgain, erinLater]) socket.close();
    });

    test('?after=<id> resumes the opened chat after the last id seen, even if it was delivered', async () => {
      const [gus, hal] = [await register(server.url, 'res-gus'), await register(server.url, 'res-hal')];
      const gusSocket = await open('/chats/res-hal', gus);
      const halSocket = await open('/chats/res-gus', hal);
      for (const text of ['m1', 'm2', 'm3']) halSocket.send(text);
      for (const text of ['m1', 'm2', 'm3']) assert.equal((await gusSocket.next()).body, text);
      gusSocket.send('my reply');
      assert.equal((await halSocket.next()).body, 'my reply');
      gusSocket.close();

      const resumed = await open('/chats/res-hal?after=1', gus);
      const frames = [await resumed.next(), await resumed.next(), await resumed.next()];
      assert.deepEqual(frames.map((f) => [f.id, f.from, f.body]), [[2, 'res-hal', 'm2'], [3, 'res-hal', 'm3'], [4, 'res-gus', 'my reply']]);
      await resumed.nothing(isMessage);
      const fromStart = await open('/chats/res-hal?after=0', gus);
      assert.equal((await fromStart.next()).id, 1);
      for (const socket of [halSocket, resumed, fromStart]) socket.close();
    });

    test('a message sent the moment a socket opens is not sent back to it by the replay', async () => {
      const [ivy, jon] = [await register(server.url, 'race-ivy'), await register(server.url, 'race-jon')];
      const jonSocket = await open('/chats/race-ivy', jon);
      jonSocket.send('before');
      for (let stored = false; !stored; ) {
        const history = await call(server.url, 'GET', '/dm/chats/race-ivy/messages', undefined, bearer(jon));
        stored = history.json.content.length === 1;
      }
      // Opened after "before" was stored: jon sent it himself, so it is not missed and not replayed.
      const jonEcho = await open('/chats/race-ivy', jon);
      const ivySocket = await open('/chats/race-jon?after=0', ivy);
      ivySocket.send('right away');
      assert.equal((await ivySocket.next()).body, 'before');
      await ivySocket.nothing(isMessage);
      assert.equal((await jonSocket.next()).body, 'right away');
      assert.equal((await jonEcho.next()).body, 'right away');
      await jonEcho.nothing(isMessage);
      for (const socket of [jonSocket, jonEcho, ivySocket]) socket.close();
    });
  });

  describe('GET /dm/chats/:username/messages', () => {
    test('pages the conversation, oldest first within a page, for both of its users', async () => {
      const [kim, lou] = [await register(server.url, 'hist-kim'), await register(server.url, 'hist-lou')];
      const kimSocket = await open('/chats/hist-lou', kim);
      const louSocket = await open('/chats/hist-kim', lou);
      for (let i = 1; i <= 7; i++) {
        const [from, to] = i % 2 ? [kimSocket, louSocket] : [louSocket, kimSocket];
        from.send(`n${i}`);
        assert.equal((await to.next()).body, `n${i}`);
      }
      const history = (query: string, token = kim, peer = 'hist-lou') => call(server.url, 'GET', `/dm/chats/${peer}/messages${query}`, undefined, bearer(token));
      const all = await history('');
      assert.equal(all.json.code, '200');
      assert.deepEqual(all.json.content.map((m: any) => m.body), ['n1', 'n2', 'n3', 'n4', 'n5', 'n6', 'n7']);
      assert.deepEqual(Object.keys(all.json.content[0]), ['from', 'body', 'sent_at', 'to', 'id']);
      assert.deepEqual(all.json.content[1], { from: 'hist-lou', body: 'n2', sent_at: all.json.content[1].sent_at, to: 'hist-kim', id: 2 });
      assert.deepEqual((await history('', lou, 'hist-kim')).json.content, all.json.content, 'the same conversation seen from the other side');

      assert.deepEqual((await history('?limit=3')).json.content.map((m: any) => m.id), [5, 6, 7]);
      assert.deepEqual((await history('?limit=3&before=5')).json.content.map((m: any) => m.id), [2, 3, 4]);
      assert.deepEqual((await history('?limit=3&before=2')).json.content.map((m: any) => m.id), [1]);
      assert.deepEqual((await history('?after=5')).json.content.map((m: any) => m.id), [6, 7]);
      assert.deepEqual((await history('?after=2&limit=2')).json.content.map((m: any) => m.id), [3, 4]);
      assert.deepEqual((await history('?after=7')).json.content, []);

      for (const query of ['?limit=0', '?limit=501', '?before=0', '?before=x', '?after=-3']) {
        const bad = await history(query);
        assert.deepEqual([bad.status, bad.json.code], [422, '422'], query);
      }
      assert.deepEqual((await history('', kim, 'nobody-at-all')).status, 404);
      assert.deepEqual((await call(server.url, 'GET', '/dm/chats/hist-lou/messages')).status, 401);
      const stranger = await register(server.url, 'hist-stranger');
      assert.deepEqual((await history('', stranger, 'hist-lou')).json.content, [], "a third user sees only their own conversation with lou: none");
      kimSocket.close();
      louSocket.close();
    });
  });
});

describe('dm login rate limit', () => {
  test('failures are limited per username and per address; 429 with Retry-After', async () => {
    const dir = await tempDir();
    const server = await startFlashhub(['--data', dir.path], { env: { FLASHHUB_LOGIN_ATTEMPTS_PER_MINUTE: '3' } });
    try {
      await register(server.url, 'victim');
      await register(server.url, 'bystander');
      for (let i = 0; i < 3; i++) {
        const wrong = await postFrom('127.0.0.1', server.port, '/dm/login', { username: 'victim', password: 'guess' });
        assert.equal(wrong.status, 400);
      }
      const limited = await postFrom('127.0.0.1', server.port, '/dm/login', { username: 'victim', password });
      assert.deepEqual([limited.status, limited.json], [429, { code: '429', message: 'too many login attempts, try again later', content: null }]);
      assert.ok(Number(limited.retryAfter) >= 1 && Number(limited.retryAfter) <= 60);
      const elsewhere = await postFrom('127.0.0.2', server.port, '/dm/login', { username: 'victim', password });
      assert.equal(elsewhere.status, 429, 'per username, from any address');
      const otherUserElsewhere = await postFrom('127.0.0.2', server.port, '/dm/login', { username: 'bystander', password });
      assert.equal(otherUserElsewhere.status, 200, 'another user from another address is fine');
      const otherUserHere = await postFrom('127.0.0.1', server.port, '/dm/login', { username: 'bystander', password });
      assert.equal(otherUserHere.status, 429, 'per address, for any username');
    } finally {
      await server.stop();
      await dir.remove();
    }
  });
});

describe('dm durability', () => {
  test('messages for an offline user survive a restart and a kill -9; delivered ones are not sent again', async () => {
    const dir = await tempDir();
    let server = await startFlashhub(['--data', dir.path]);
    const connect = (path: string, token: string) => connectWs(`${server.url.replace('http', 'ws')}${path}`, { headers: bearer(token) });
    try {
      const [mia, ned, oli] = [await register(server.url, 'mia'), await register(server.url, 'ned'), await register(server.url, 'oli')];
      let nedSends = await connect('/chats/mia', ned);
      let nedEcho = await connect('/chats/oli', ned);
      nedSends.send('while you were away');
      assert.equal((await nedEcho.next()).body, 'while you were away');
      nedSends.close();
      nedEcho.close();
      assert.equal(await server.stop(), 0);

      server = await startFlashhub(['--data', dir.path]);
      const miaSocket = await connect('/chats/ned', mia);
      assert.equal((await miaSocket.next()).body, 'while you were away');
      miaSocket.close();
      await waitForLog(server, (line) => line.event === 'dm.disconnected' && line.userId !== undefined && line.peer === 'ned');
      assert.equal(await server.stop(), 0);

      // Delivered before the restart: nothing is missed now.
      server = await startFlashhub(['--data', dir.path]);
      const miaAgain = await connect('/chats/ned', mia);
      await miaAgain.nothing(isMessage, 500);
      miaAgain.close();

      // Stored before delivered: once a copy reached a socket, a kill -9 cannot take it back.
      nedSends = await connect('/chats/oli', ned);
      nedEcho = await connect('/chats/mia', ned);
      nedSends.send('stored before delivered');
      assert.equal((await nedEcho.next()).body, 'stored before delivered');
      await server.stop('SIGKILL');

      server = await startFlashhub(['--data', dir.path]);
      const oliSocket = await connect('/chats/ned', oli);
      const frame = await oliSocket.next();
      assert.deepEqual([frame.from, frame.body, frame.to, frame.id], ['ned', 'stored before delivered', 'oli', 1]);
      const history = await call(server.url, 'GET', '/dm/chats/ned/messages', undefined, bearer(oli));
      assert.deepEqual(history.json.content, [frame]);
      oliSocket.close();
    } finally {
      await server.stop();
      await dir.remove();
    }
  });
});

describe('dm slow reader', () => {
  test('a socket that does not read is dropped; the others get everything', async () => {
    const dir = await tempDir();
    // 60,000-character messages as fast as the store takes them: past message_length and messages_per_second's defaults.
    const server = await startFlashhub(['--data', dir.path], {
      env: { FLASHHUB_SEND_QUEUE_BYTES: '16384', FLASHHUB_MESSAGE_LENGTH: '60000', FLASHHUB_MESSAGES_PER_SECOND: '100000' },
    });
    const wsUrl = server.url.replace('http', 'ws');
    try {
      const [pam, quin] = [await register(server.url, 'pam'), await register(server.url, 'quin')];
      const slow = await connectWs(`${wsUrl}/chats/pam`, { headers: bearer(quin) });
      (slow.ws as unknown as { _socket: net.Socket })._socket.pause();
      const fast = await connectWs(`${wsUrl}/chats/pam`, { headers: bearer(quin) });
      const sender = await connectWs(`${wsUrl}/chats/quin`, { headers: bearer(pam) });
      const body = 'x'.repeat(60_000);
      let dropped = false;
      for (let i = 0; i < 400 && !dropped; i++) {
        sender.send(body);
        assert.equal((await fast.next()).id, i + 1);
        dropped = server.logs.some((line) => line.event === 'dm.disconnected' && /send queue full/.test(String(line.reason)));
      }
      assert.ok(dropped, 'the slow socket was dropped with its reason');
      sender.send('after the drop');
      assert.equal((await fast.next()).body, 'after the drop');
      for (const socket of [slow, fast, sender]) socket.ws.terminate();
    } finally {
      await server.stop();
      await dir.remove();
    }
  });
});

describe('dm with --no-legacy-routes', () => {
  test('only /dm/... answers', async () => {
    const dir = await tempDir();
    const server = await startFlashhub(['--data', dir.path, '--no-legacy-routes']);
    try {
      assert.equal((await call(server.url, 'POST', '/register', { name: 'R', username: 'rootless', password })).status, 404);
      const token = await register(server.url, 'rootless');
      assert.equal((await upgrade(server.port, '/chats/rootless', bearer(token))).status, 404);
      assert.equal((await upgrade(server.port, '/dm/chats/rootless', bearer(token))).status, 101);
      assert.equal((await call(server.url, 'GET', '/users/', undefined, bearer(token))).status, 404);
      assert.equal((await call(server.url, 'GET', '/dm/users/', undefined, bearer(token))).status, 200);
    } finally {
      await server.stop();
      await dir.remove();
    }
  });
});

describe('dm with open_registration off', () => {
  test('POST /register is refused; accounts made by the operator still log in', async () => {
    const dir = await tempDir();
    await runCli(['user', 'add', 'staffer', '--name', 'Staff', '--password', password, '--data', dir.path]);
    const server = await startFlashhub(['--data', dir.path], { env: { FLASHHUB_OPEN_REGISTRATION: 'false' } });
    try {
      const refused = await call(server.url, 'POST', '/register', { name: 'Eve', username: 'eve', password });
      assert.equal(refused.status, 403);
      assert.deepEqual(refused.json, { code: '403', message: 'registration is closed; ask an operator for an account', content: null });
      const login = await call(server.url, 'POST', '/dm/login', { username: 'staffer', password });
      assert.equal(login.status, 200);
    } finally {
      await server.stop();
      await dir.remove();
    }
  });
});
