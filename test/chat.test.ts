// Hub chat (seed 002) over real sockets: login and sessions, the seed README's requests, rooms and
// their privacy, history paging (also while others post), posting, the EventSource and the WebSocket.
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import { runCli, startFlashhub, tempDir, type RunningFlashhub } from './support/flashhub.ts';
import { openSse, type SseStream } from './support/sse.ts';
import { connectWs } from './support/ws.ts';

interface Browser {
  cookie: string;
  call(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<{ status: number; json: any; headers: Headers }>;
}

/** A client with a cookie jar of one cookie, like a browser tab. */
function browser(base: string): Browser {
  const self: Browser = {
    cookie: '',
    async call(method, path, body, headers = {}) {
      const response = await fetch(`${base}${path}`, {
        method,
        headers: { 'content-type': 'application/json', ...(self.cookie ? { cookie: self.cookie } : {}), ...headers },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const set = response.headers.get('set-cookie');
      if (set) self.cookie = /Max-Age=0|Expires=Thu, 01 Jan 1970/i.test(set) ? '' : set.split(';')[0]!;
      const text = await response.text();
      return { status: response.status, json: text ? JSON.parse(text) : undefined, headers: response.headers };
    },
  };
  return self;
}

async function loggedIn(base: string, username: string, password?: string): Promise<Browser> {
  const tab = browser(base);
  const { status, json } = await tab.call('POST', '/login', password === undefined ? { username } : { username, password }, { 'x-flashhub-hub': 'chat' });
  assert.equal(status, 200, JSON.stringify(json));
  return tab;
}

const eventOf = (e: { data: string }) => JSON.parse(e.data) as { type: string; data: any };

describe('chat in --demo: the seed README', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let server: RunningFlashhub;
  before(async () => {
    dir = await tempDir();
    server = await startFlashhub(['--data', dir.path, '--demo']);
  });
  after(async () => {
    await server.stop();
    await dir.remove();
  });

  test('POST /login {"username":"Adam"} → {"id":"1","username":"Adam"} and a session cookie', async () => {
    const tab = browser(server.url);
    const { status, json, headers } = await tab.call('POST', '/login', { username: 'Adam' });
    assert.equal(status, 200);
    assert.deepEqual(json, { id: '1', username: 'Adam' });
    const cookie = headers.get('set-cookie') ?? '';
    assert.match(cookie, /^session=ey/);
    assert.match(cookie, /HttpOnly/);
    assert.match(cookie, /SameSite=Lax/);
    assert.deepEqual((await tab.call('GET', '/me')).json, { id: '1', username: 'Adam' });
  });

  test('GET /login with the username in the query or the body', async () => {
    assert.deepEqual((await browser(server.url).call('GET', '/login?username=Kyle')).json, { id: '2', username: 'Kyle' });
    assert.deepEqual((await browser(server.url).call('GET', '/chat/login?username=Taylor')).json, { id: '3', username: 'Taylor' });
  });

  test('GET /logout → {"message":"User <id> has been logged out"}, and the cookie is dead', async () => {
    const tab = await loggedIn(server.url, 'Kyle');
    const stolen = tab.cookie;
    assert.deepEqual((await tab.call('GET', '/logout')).json, { message: 'User 2 has been logged out' });
    assert.equal((await tab.call('GET', '/me')).json, null);
    const replay = browser(server.url);
    replay.cookie = stolen;
    assert.equal((await replay.call('GET', '/me')).json, null, 'the old cookie value no longer works');
    assert.deepEqual(await replay.call('POST', '/logout').then((r) => [r.status, r.json]), [404, { message: 'No user currently logged in' }]);
  });

  test('GET /users/online → the seed\'s map, everyone online as in its data', async () => {
    const { json } = await browser(server.url).call('GET', '/users/online');
    assert.deepEqual(json, {
      1: { id: '1', username: 'Adam', online: true },
      2: { id: '2', username: 'Kyle', online: true },
      3: { id: '3', username: 'Taylor', online: true },
    });
  });

  test('GET /users?ids[]=1&ids[]=2 → a map', async () => {
    const { status, json } = await browser(server.url).call('GET', '/users?ids[]=1&ids[]=2');
    assert.equal(status, 200);
    assert.deepEqual(json, { 1: { id: '1', username: 'Adam', online: true }, 2: { id: '2', username: 'Kyle', online: true } });
    assert.equal((await browser(server.url).call('GET', '/chat/users?ids[]=x')).status, 400);
  });

  test("GET /rooms/1 → the seed's shape and order, nested names included", async () => {
    const adam = await loggedIn(server.url, 'Adam');
    const { json } = await adam.call('GET', '/rooms/1');
    assert.deepEqual(json, [
      { id: '1:3', names: [['Adam'], ['Taylor']] },
      { id: '1:2', names: [['Adam'], ['Kyle']] },
      { id: '0', names: ['General'] },
    ]);
    assert.equal((await adam.call('GET', '/rooms/2')).status, 403, "only one's own rooms");
    assert.equal((await browser(server.url).call('GET', '/rooms/1')).status, 401);
  });

  test('GET /room/0/messages?offset=0&size=N → exactly N, newest first', async () => {
    const adam = await loggedIn(server.url, 'Adam');
    const { json } = await adam.call('GET', '/room/0/messages?offset=0&size=3');
    assert.equal(json.length, 3);
    assert.deepEqual(json.map((m: { message: string }) => m.message), ["How's the final project going?", 'Hey nice to see you!', "How's everything?"]);
    for (const m of json) assert.deepEqual(Object.keys(m).sort(), ['date', 'from', 'id', 'message', 'roomId']);
    const private12 = await adam.call('GET', '/room/1:2/messages?offset=0&size=10');
    assert.equal(private12.json.length, 2);
  });

  test('open login: unknown names are created; a user with a password still needs it', async () => {
    const newcomer = await browser(server.url).call('POST', '/login', { username: 'Newcomer' });
    assert.equal(newcomer.status, 200);
    assert.equal(newcomer.json.username, 'Newcomer');
    const noPassword = await browser(server.url).call('POST', '/chat/login', { username: 'client@volunteer-vision.com' });
    assert.deepEqual([noPassword.status, noPassword.json], [401, { message: 'Invalid username or password' }]);
    const withPassword = await browser(server.url).call('POST', '/chat/login', { username: 'client@volunteer-vision.com', password: 'start123' });
    assert.equal(withPassword.status, 200);
  });
});

describe('chat without open login', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let server: RunningFlashhub;
  const ids: Record<string, string> = {};
  before(async () => {
    dir = await tempDir();
    for (const name of ['amy', 'bob', 'cyd']) await runCli(['user', 'add', name, '--password', `${name}-pass`, '--data', dir.path]);
    await runCli(['user', 'add', 'nopass', '--data', dir.path]);
    server = await startFlashhub(['--data', dir.path], { env: { FLASHHUB_LOGIN_ATTEMPTS_PER_MINUTE: '1000' } });
    for (const name of ['amy', 'bob', 'cyd']) ids[name] = (await (await loggedIn(server.url, name, `${name}-pass`)).call('GET', '/me')).json.id;
  });
  after(async () => {
    await server.stop();
    await dir.remove();
  });

  test('login needs a password: unknown and password-less users are refused, wrong passwords too', async () => {
    for (const body of [{ username: 'stranger' }, { username: 'nopass' }, { username: 'amy' }, { username: 'amy', password: 'wrong' }]) {
      const { status, json } = await browser(server.url).call('POST', '/chat/login', body);
      assert.deepEqual([status, json], [401, { message: 'Invalid username or password' }], JSON.stringify(body));
    }
    for (const body of [{}, { username: '' }, { username: 'no spaces' }, { username: 12 }]) {
      assert.deepEqual((await browser(server.url).call('POST', '/chat/login', body)).json, { message: 'Invalid username' });
    }
    assert.equal((await browser(server.url).call('POST', '/chat/login', { username: 'amy', password: 5 })).status, 400);
  });

  test('posting: the sender comes from the session, text is escaped, identical texts stay two messages', async () => {
    const amy = await loggedIn(server.url, 'amy', 'amy-pass');
    const first = await amy.call('POST', '/room/0/messages', { message: '<b>hi</b>', from: 999 });
    const second = await amy.call('POST', '/room/0/messages', { message: '<b>hi</b>', from: 999 });
    assert.equal(first.status, 201);
    assert.equal(first.json.from, Number(ids.amy));
    assert.equal(first.json.message, '&lt;b&gt;hi&lt;/b&gt;');
    assert.equal(second.json.id, first.json.id + 1);
    const latest = await amy.call('GET', '/room/0/messages?size=2');
    assert.deepEqual(latest.json.map((m: { id: number }) => m.id), [second.json.id, first.json.id]);
    for (const message of [undefined, '', '   ', 7, 'x'.repeat(4097)]) {
      assert.equal((await amy.call('POST', '/room/0/messages', { message })).status, 400, String(message).slice(0, 10));
    }
    assert.equal((await browser(server.url).call('POST', '/room/0/messages', { message: 'anon' })).status, 401);
  });

  test('private rooms: only their two members read, write or hear them', async () => {
    const amy = await loggedIn(server.url, 'amy', 'amy-pass');
    const cyd = await loggedIn(server.url, 'cyd', 'cyd-pass');
    const room = [ids.amy, ids.bob].map(Number).sort((a, b) => a - b).join(':');
    const opened = await amy.call('POST', '/room', { user1: ids.amy, user2: ids.bob });
    assert.equal(opened.status, 201);
    assert.deepEqual(opened.json, { id: room, names: [['amy'], ['bob']] });
    assert.equal((await amy.call('POST', '/room', { user1: ids.bob, user2: ids.amy })).status, 200, 'opening it again finds it');
    assert.equal((await cyd.call('POST', '/room', { user1: ids.amy, user2: ids.bob })).status, 403);
    assert.equal((await amy.call('POST', '/room', { user1: ids.amy, user2: ids.amy })).status, 400);
    assert.equal((await amy.call('POST', '/room', { user1: ids.amy, user2: 99999 })).status, 404);
    assert.equal((await amy.call('GET', `/rooms/${ids.amy}`)).json.length, 1, 'a private room without messages is not listed yet');
    await amy.call('POST', `/room/${room}/messages`, { message: 'secret' });
    assert.deepEqual((await amy.call('GET', `/rooms/${ids.amy}`)).json[0], { id: room, names: [['amy'], ['bob']] });
    assert.equal((await cyd.call('GET', `/room/${room}/messages`)).status, 403);
    assert.equal((await cyd.call('POST', `/room/${room}/messages`, { message: 'intrude' })).status, 403);
    for (const bad of ['2:1', '1:1', 'abc', '0:1', '1:2:3']) assert.equal((await amy.call('GET', `/room/${bad}/messages`)).status, 400, bad);
    assert.equal((await amy.call('GET', '/room/77:78/messages')).status, 403, "another pair's room, even an empty one");
  });

  test('history: bad parameters 400, an empty room [], cursor paging exact while others post', async () => {
    const amy = await loggedIn(server.url, 'amy', 'amy-pass');
    const bob = await loggedIn(server.url, 'bob', 'bob-pass');
    for (const query of ['offset=-1', 'size=0', 'size=501', 'offset=x', 'before=abc']) {
      assert.equal((await amy.call('GET', `/room/0/messages?${query}`)).status, 400, query);
    }
    const room = [ids.amy, ids.cyd].map(Number).sort((a, b) => a - b).join(':');
    assert.deepEqual((await amy.call('GET', `/room/${room}/messages`)).json, []);

    for (let i = 0; i < 30; i++) await amy.call('POST', '/room/0/messages', { message: `base ${i}` });
    const top = (await amy.call('GET', '/room/0/messages?size=1')).json[0].id as number;
    // Page backwards by cursor while bob keeps posting: every message at or below the start is seen exactly once.
    const posting = (async () => {
      for (let i = 0; i < 40; i++) await bob.call('POST', '/room/0/messages', { message: `noise ${i}` });
    })();
    const seen: number[] = [];
    let before = top + 1;
    for (;;) {
      const page = (await amy.call('GET', `/room/0/messages?size=7&before=${before}`)).json as { id: number }[];
      if (page.length === 0) break;
      assert.ok(page.length <= 7);
      seen.push(...page.map((m) => m.id));
      before = page[page.length - 1]!.id;
    }
    await posting;
    assert.deepEqual(seen, [...Array(top).keys()].map((i) => top - i), 'every id from the top down to 1, once, in order');
    const offsetPage = (await amy.call('GET', '/room/0/messages?offset=5&size=5')).json as { id: number }[];
    const newest = (await amy.call('GET', '/room/0/messages?size=1')).json[0].id as number;
    assert.deepEqual(offsetPage.map((m) => m.id), [newest - 5, newest - 6, newest - 7, newest - 8, newest - 9], 'exactly size, no off-by-one');
  });

  describe('events', () => {
    const streams: SseStream[] = [];
    afterEach(async () => {
      const open = streams.splice(0);
      open.forEach((s) => s.close());
      await Promise.all(open.map((s) => s.ended));
    });
    const stream = async (tab: Browser, headers: Record<string, string> = {}) => {
      const s = await openSse(`${server.url}/stream`, { cookie: tab.cookie, ...headers });
      streams.push(s);
      assert.equal(s.status, 200);
      return s;
    };
    const nextOf = async (s: SseStream, type: string, about?: string) => {
      for (;;) {
        const event = await s.next();
        const parsed = eventOf(event);
        if (parsed.type === type && (about === undefined || parsed.data.id === about)) return { ...parsed, id: event.id };
      }
    };

    test('the stream needs a login', async () => {
      const anonymous = await openSse(`${server.url}/stream`);
      assert.equal(anonymous.status, 401);
    });

    test("members hear their rooms and General, never another private room; show.room once", async () => {
      const amy = await loggedIn(server.url, 'amy', 'amy-pass');
      const bob = await loggedIn(server.url, 'bob', 'bob-pass');
      const cyd = await loggedIn(server.url, 'cyd', 'cyd-pass');
      const [amyStream, bobStream, cydStream] = [await stream(amy), await stream(bob), await stream(cyd)];
      const room = [ids.bob, ids.cyd].map(Number).sort((a, b) => a - b).join(':');
      await bob.call('POST', `/room/${room}/messages`, { message: 'first words' });
      const shown = await nextOf(cydStream, 'show.room');
      assert.deepEqual(shown.data, { id: room, names: [['bob'], ['cyd']] });
      assert.equal((await nextOf(cydStream, 'message')).data.message, 'first words');
      assert.equal((await nextOf(bobStream, 'message')).data.message, 'first words', 'the sender hears it too (the demo client relies on that)');
      await bob.call('POST', `/room/${room}/messages`, { message: 'second words' });
      assert.equal((await nextOf(cydStream, 'message')).data.message, 'second words');
      await amy.call('POST', '/room/0/messages', { message: 'hello all' });
      assert.equal((await nextOf(amyStream, 'message')).data.message, 'hello all', 'amy got General, and nothing of bob and cyd before it');
      assert.equal((await nextOf(cydStream, 'message')).data.message, 'hello all');
    });

    test('user.connected / user.disconnected follow presence; two tabs stay online until the last closes', async () => {
      const amy = await loggedIn(server.url, 'amy', 'amy-pass');
      const watcher = await stream(amy);
      const bob = await loggedIn(server.url, 'bob', 'bob-pass');
      const tab1 = await openSse(`${server.url}/stream`, { cookie: bob.cookie });
      const connected = await nextOf(watcher, 'user.connected', ids.bob);
      assert.deepEqual(connected.data, { id: ids.bob, username: 'bob', online: true });
      const tab2 = await openSse(`${server.url}/stream`, { cookie: bob.cookie });
      tab1.close();
      await tab1.ended;
      assert.equal((await amy.call('GET', `/users?ids[]=${ids.bob}`)).json[ids.bob!].online, true, 'still online in the other tab');
      tab2.close();
      assert.deepEqual((await nextOf(watcher, 'user.disconnected', ids.bob)).data, { id: ids.bob, username: 'bob', online: false });
      assert.ok(!(ids.bob! in (await amy.call('GET', '/users/online')).json));
    });

    test('Last-Event-ID resumes with what was missed; an unknown id reports a gap', async () => {
      const amy = await loggedIn(server.url, 'amy', 'amy-pass');
      const first = await stream(amy);
      await amy.call('POST', '/room/0/messages', { message: 'before the drop' });
      const seen = await nextOf(first, 'message');
      first.close();
      await amy.call('POST', '/room/0/messages', { message: 'while away 1' });
      await amy.call('POST', '/room/0/messages', { message: 'while away 2' });
      const resumed = await stream(amy, { 'last-event-id': seen.id! });
      assert.equal((await nextOf(resumed, 'message')).data.message, 'while away 1');
      assert.equal((await nextOf(resumed, 'message')).data.message, 'while away 2');
      const lost = await stream(amy, { 'last-event-id': 'deadbeef-12' });
      assert.equal((await lost.next()).data.includes('"type":"stream.gap"'), true);
    });

    test('WebSocket /chat/ws: the same events in and out', async () => {
      const amy = await loggedIn(server.url, 'amy', 'amy-pass');
      const wsUrl = `${server.url.replace('http', 'ws')}/chat/ws`;
      await assert.rejects(connectWs(wsUrl), (error: { status?: number }) => error.status === 401);
      const socket = await connectWs(wsUrl, { headers: { cookie: amy.cookie } });
      const bobRoom = [ids.bob, ids.cyd].map(Number).sort((a, b) => a - b).join(':');
      socket.send({ type: 'room.join', data: bobRoom });
      assert.deepEqual(await socket.next((f) => f.type === 'error'), { type: 'error', data: { message: 'Not a member of this room' } });
      socket.send({ type: 'message', data: { roomId: '0', message: 'over the socket', from: 12345 } });
      const echoed = await socket.next((f) => f.type === 'message');
      assert.equal(echoed.data.message, 'over the socket');
      assert.equal(echoed.data.from, Number(ids.amy));
      assert.match(echoed.id, /^[0-9a-f]{8}-\d+$/);
      socket.send('{nope');
      assert.deepEqual(await socket.next((f) => f.type === 'error'), { type: 'error', data: { message: 'invalid JSON' } });
      socket.send({ type: 'dance' });
      assert.deepEqual(await socket.next((f) => f.type === 'error'), { type: 'error', data: { message: 'unknown type' } });
      const token = amy.cookie.replace('session=', '');
      const byToken = await connectWs(`${wsUrl}?token=${token}`);
      byToken.close();
      socket.close();
    });
  });
});
