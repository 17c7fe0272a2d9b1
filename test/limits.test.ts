// The limits of issue 11 over real sockets: frames per second per WebSocket (presence, chat, dm),
// connections per client address (WebSockets and EventSource streams of every hub together, from
// 127.0.0.x local addresses), and message and room-name lengths in each hub's error shape, with
// nothing stored past a limit and exactly-at-the-limit accepted.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { startFlashhub, tempDir, type RunningFlashhub } from './support/flashhub.ts';
import { connectWs, type WsClient } from './support/ws.ts';

const password = 'limits-pass';
const clientId = 'limits-backend';
const clientSecret = 'limits-backend-secret-0123';

interface Answer {
  status: number;
  json: any;
  cookie?: string;
}

async function call(base: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  const cookie = response.headers.get('set-cookie')?.split(';')[0];
  return { status: response.status, json: text ? JSON.parse(text) : undefined, cookie };
}

/** A chat login (open login): the user's id and session token. */
async function chatLogin(base: string, username: string): Promise<{ id: number; token: string }> {
  const { status, json, cookie } = await call(base, 'POST', '/chat/login', { username });
  assert.equal(status, 200, JSON.stringify(json));
  return { id: Number(json.id), token: cookie!.slice('session='.length) };
}

async function dmRegister(base: string, username: string): Promise<string> {
  const { status, json } = await call(base, 'POST', '/dm/register', { name: username, username, password });
  assert.equal(status, 200, JSON.stringify(json));
  return json.content.token;
}

async function clientToken(base: string): Promise<string> {
  const { status, json } = await call(base, 'POST', '/api/auth/token', { client_id: clientId, client_secret: clientSecret });
  assert.equal(status, 200, JSON.stringify(json));
  return json.access_token;
}

async function streamToken(base: string, username: string): Promise<string> {
  const { json } = await call(base, 'GET', `/api/user/${username}/token`, undefined, { authorization: `Bearer ${await clientToken(base)}` });
  return json.access_token;
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The promise's value, or a failure naming what did not happen within `ms`. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`not within ${ms} ms: ${what}`)), ms)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function eventually(check: () => Promise<boolean> | boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await sleep(25);
  }
}

interface Opened {
  status: number;
  body: any;
  /** Ends the connection (an open WebSocket or stream). */
  close(): void;
}

/** A WebSocket upgrade from a local address: 101 keeps the connection open; a refusal has its body. */
function upgradeFrom(localAddress: string, port: number, path: string, headers: Record<string, string> = {}): Promise<Opened> {
  return new Promise((resolve, reject) => {
    const request = http.request({
      host: '127.0.0.1',
      port,
      path,
      localAddress,
      agent: false,
      headers: { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==', 'Sec-WebSocket-Version': '13', ...headers },
    });
    request.on('upgrade', (_response, socket: Socket) => resolve({ status: 101, body: undefined, close: () => socket.destroy() }));
    request.on('response', (response) => readAnswer(response, () => request.destroy()).then(resolve, reject));
    request.on('error', reject);
    request.end();
  });
}

/** An EventSource request from a local address: 200 stays open; a refusal has its body. */
function streamFrom(localAddress: string, port: number, path: string, headers: Record<string, string> = {}): Promise<Opened> {
  return new Promise((resolve, reject) => {
    const request = http.get({ host: '127.0.0.1', port, path, localAddress, agent: false, headers: { accept: 'text/event-stream', ...headers } });
    request.on('response', (response) => {
      if (response.statusCode === 200) {
        response.on('error', () => undefined);
        resolve({ status: 200, body: undefined, close: () => request.destroy() });
        return;
      }
      readAnswer(response, () => request.destroy()).then(resolve, reject);
    });
    request.on('error', reject);
  });
}

function readAnswer(response: http.IncomingMessage, close: () => void): Promise<Opened> {
  return new Promise((resolve) => {
    let text = '';
    response.setEncoding('utf8');
    response.on('data', (chunk) => (text += chunk));
    response.on('end', () => resolve({ status: response.statusCode ?? 0, body: text ? JSON.parse(text) : undefined, close }));
  });
}

describe('messages per second per WebSocket', () => {
  const rate = 5;
  const reason = `too many messages: more than ${rate} per second`;
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let server: RunningFlashhub;
  let wsUrl: string;
  const sockets: WsClient[] = [];
  const open = async (path: string, headers: Record<string, string> = {}) => {
    const socket = await connectWs(`${wsUrl}${path}`, { headers });
    sockets.push(socket);
    return socket;
  };

  before(async () => {
    dir = await tempDir();
    server = await startFlashhub(['--data', dir.path], { env: { FLASHHUB_MESSAGES_PER_SECOND: String(rate), FLASHHUB_OPEN_LOGIN: 'true' } });
    wsUrl = server.url.replace('http', 'ws');
  });
  after(async () => {
    for (const socket of sockets) socket.ws.terminate();
    await server.stop();
    await dir.remove();
  });

  test('presence: a flood is closed 1008 with the reason, frames past the burst go unanswered; a calm socket stays', async () => {
    const calm = await open('/presence/ws');
    const flood = await open('/presence/ws');
    for (let i = 0; i < 40; i++) flood.send({ type: 'ping', reqId: i });
    assert.deepEqual(await within(flood.closed, 5000, 'the flooding socket is closed'), { code: 1008, reason });
    let pongs = 0;
    while (await flood.next((frame) => frame.type === 'pong', 1).then(() => true, () => false)) pongs++;
    assert.ok(pongs <= 2 * rate, `at most the burst (${2 * rate}) was answered, got ${pongs}`);
    for (let i = 0; i < 6; i++) {
      calm.send({ type: 'ping', reqId: `calm-${i}` });
      assert.equal((await calm.next((frame) => frame.reqId === `calm-${i}`)).type, 'pong');
      await sleep(300);
    }
    assert.equal(calm.ws.readyState, calm.ws.OPEN);
  });

  test('chat: a flooding socket is closed 1008 and what it sent past the burst is not stored', async () => {
    const amy = await chatLogin(server.url, 'amy');
    const bob = await chatLogin(server.url, 'bob');
    const calm = await open(`/chat/ws?token=${bob.token}`);
    const flood = await open(`/chat/ws?token=${amy.token}`);
    for (let i = 0; i < 40; i++) flood.send({ type: 'message', data: { roomId: '0', message: `flood ${i}` } });
    assert.deepEqual(await within(flood.closed, 5000, 'the flooding socket is closed'), { code: 1008, reason });
    for (let i = 0; i < 5; i++) {
      calm.send({ type: 'message', data: { roomId: '0', message: `calm ${i}` } });
      await calm.next((frame) => frame.type === 'message' && frame.data.message === `calm ${i}`);
      await sleep(300);
    }
    assert.equal(calm.ws.readyState, calm.ws.OPEN);
    const history = await call(server.url, 'GET', '/chat/room/0/messages?size=100', undefined, bearer(bob.token));
    const texts: string[] = history.json.map((m: { message: string }) => m.message);
    const flooded = texts.filter((text) => text.startsWith('flood'));
    assert.ok(flooded.length >= 1 && flooded.length <= 2 * rate, `stored ${flooded.length} of the flood`);
    assert.equal(texts.filter((text) => text.startsWith('calm')).length, 5);
  });

  test('dm: a flooding socket is closed 1008, its peer gets at most the burst; a calm pair goes on', async () => {
    const [fay, gil, hal, ivy] = await Promise.all(['fay', 'gil', 'hal', 'ivy'].map((name) => dmRegister(server.url, name)));
    const gilSocket = await open('/dm/chats/fay', bearer(gil!));
    const ivySocket = await open('/dm/chats/hal', bearer(ivy!));
    const halSocket = await open('/dm/chats/ivy', bearer(hal!));
    const flood = await open('/dm/chats/gil', bearer(fay!));
    for (let i = 0; i < 40; i++) flood.send(`flood ${i}`);
    assert.deepEqual(await within(flood.closed, 5000, 'the flooding socket is closed'), { code: 1008, reason });
    for (let i = 0; i < 5; i++) {
      halSocket.send(`calm ${i}`);
      assert.equal((await ivySocket.next((frame) => typeof frame.body === 'string')).body, `calm ${i}`);
      await sleep(300);
    }
    assert.equal(halSocket.ws.readyState, halSocket.ws.OPEN);
    const history = await call(server.url, 'GET', '/dm/chats/fay/messages?limit=100', undefined, bearer(gil!));
    assert.ok(history.json.content.length >= 1 && history.json.content.length <= 2 * rate, `stored ${history.json.content.length} of the flood`);
    await gilSocket.nothing((frame) => typeof frame.body === 'string' && Number(frame.body.slice(6)) >= 2 * rate, 100);
  });
});

describe('connections per client address', () => {
  const limit = 3;
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let server: RunningFlashhub;
  const opened: Opened[] = [];
  const keep = (connection: Opened) => {
    opened.push(connection);
    return connection;
  };

  before(async () => {
    dir = await tempDir();
    server = await startFlashhub(['--data', dir.path], {
      env: { FLASHHUB_CONNECTIONS_PER_ADDRESS: String(limit), FLASHHUB_OPEN_LOGIN: 'true', FLASHHUB_CLIENT_ID: clientId, FLASHHUB_CLIENT_SECRET: clientSecret },
    });
  });
  after(async () => {
    for (const connection of opened) connection.close();
    await server.stop();
    await dir.remove();
  });

  test('WebSockets and streams of every hub count together; the next one is refused in each hub’s 429 shape', async () => {
    const { port, url } = server;
    const chat = await chatLogin(url, 'carl');
    const dm = await dmRegister(url, 'dora');
    await dmRegister(url, 'dave');
    const stream = await streamToken(url, 'nora');
    const from = '127.0.0.2';

    assert.equal(keep(await upgradeFrom(from, port, '/presence/ws')).status, 101);
    assert.equal(keep(await streamFrom(from, port, `/chat/stream?token=${chat.token}`)).status, 200);
    assert.equal(keep(await upgradeFrom(from, port, '/dm/chats/dave', bearer(dm))).status, 101);

    const refusals = [
      [await upgradeFrom(from, port, '/presence/ws'), { error: 'too many connections from this address' }],
      [await upgradeFrom(from, port, `/chat/ws?token=${chat.token}`), { message: 'Too many connections from this address' }],
      [await upgradeFrom(from, port, '/dm/chats/dave', bearer(dm)), { code: '429', message: 'too many connections from this address', content: null }],
      [await streamFrom(from, port, `/chat/stream?token=${chat.token}`), { message: 'Too many connections from this address' }],
      [await streamFrom(from, port, `/notify/sse?token=${stream}`), { error: 'Too many connections from this address' }],
      [await streamFrom(from, port, `/sse?token=${stream}`), { error: 'Too many connections from this address' }],
    ] as const;
    for (const [answer, body] of refusals) assert.deepEqual([answer.status, answer.body], [429, body]);

    // Another address still gets in, on every hub.
    const other = '127.0.0.3';
    assert.equal(keep(await upgradeFrom(other, port, `/chat/ws?token=${chat.token}`)).status, 101);
    assert.equal(keep(await streamFrom(other, port, `/sse?token=${stream}`)).status, 200);
    assert.equal(keep(await upgradeFrom(other, port, '/presence/ws')).status, 101);
    assert.equal((await upgradeFrom(other, port, '/presence/ws')).status, 429);

    // A closed connection gives its slot back.
    opened[0]!.close();
    let again: Opened | undefined;
    await eventually(async () => {
      again = await upgradeFrom(from, port, '/presence/ws');
      return again.status === 101;
    }, 'the freed slot is taken again');
    keep(again!);
    assert.equal((await streamFrom(from, port, `/sse?token=${stream}`)).status, 429);
  });

  test('refused upgrades (401) hold no slot', async () => {
    const from = '127.0.0.4';
    for (let i = 0; i < 2 * limit; i++) assert.equal((await upgradeFrom(from, server.port, '/chat/ws')).status, 401);
    for (let i = 0; i < limit; i++) assert.equal(keep(await upgradeFrom(from, server.port, '/presence/ws')).status, 101);
    assert.equal((await upgradeFrom(from, server.port, '/presence/ws')).status, 429);
  });
});

describe('message and room name lengths', () => {
  const messageLength = 10;
  const roomNameLength = 3;
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let server: RunningFlashhub;
  let wsUrl: string;
  const sockets: WsClient[] = [];
  let amy: { id: number; token: string };
  let bob: { id: number; token: string };

  before(async () => {
    dir = await tempDir();
    server = await startFlashhub(['--data', dir.path], {
      env: {
        FLASHHUB_MESSAGE_LENGTH: String(messageLength),
        FLASHHUB_ROOM_NAME_LENGTH: String(roomNameLength),
        FLASHHUB_OPEN_LOGIN: 'true',
        FLASHHUB_CLIENT_ID: clientId,
        FLASHHUB_CLIENT_SECRET: clientSecret,
      },
    });
    wsUrl = server.url.replace('http', 'ws');
    amy = await chatLogin(server.url, 'amy');
    bob = await chatLogin(server.url, 'bob');
    assert.deepEqual([amy.id, bob.id], [1, 2], 'the private room 1:2 is exactly at the room name limit');
  });
  after(async () => {
    for (const socket of sockets) socket.ws.terminate();
    await server.stop();
    await dir.remove();
  });

  const history = async (room: string) =>
    (await call(server.url, 'GET', `/chat/room/${room}/messages?size=100`, undefined, bearer(amy.token))).json.map((m: { message: string }) => m.message);

  test('chat over HTTP: {"message"} 400 past message_length; exactly at it (in characters) is stored', async () => {
    const atLimit = 'a'.repeat(messageLength);
    const emoji = '😀'.repeat(messageLength);
    assert.equal((await call(server.url, 'POST', '/chat/room/0/messages', { message: atLimit }, bearer(amy.token))).status, 201);
    assert.equal((await call(server.url, 'POST', '/chat/room/0/messages', { message: emoji }, bearer(amy.token))).status, 201, 'an emoji is one character');
    const tooLong = await call(server.url, 'POST', '/chat/room/0/messages', { message: 'b'.repeat(messageLength + 1) }, bearer(amy.token));
    assert.deepEqual([tooLong.status, tooLong.json], [400, { message: `A message has at most ${messageLength} characters` }]);
    assert.deepEqual(await history('0'), [emoji, atLimit]);
  });

  test('chat over HTTP: a room id past room_name_length is 400 {"message"}; one exactly at it works', async () => {
    const room = '1:2';
    assert.equal((await call(server.url, 'POST', '/chat/room', { user1: amy.id, user2: bob.id }, bearer(amy.token))).status, 201);
    assert.equal((await call(server.url, 'POST', `/chat/room/${room}/messages`, { message: 'hi bob' }, bearer(amy.token))).status, 201);
    const expected = [400, { message: `A room id has at most ${roomNameLength} characters` }];
    const posted = await call(server.url, 'POST', '/chat/room/1:22/messages', { message: 'hi' }, bearer(amy.token));
    assert.deepEqual([posted.status, posted.json], expected);
    const read = await call(server.url, 'GET', '/chat/room/1:22/messages', undefined, bearer(amy.token));
    assert.deepEqual([read.status, read.json], expected);
    assert.deepEqual(await history(room), ['hi bob']);
    const rooms = await call(server.url, 'GET', `/chat/rooms/${amy.id}`, undefined, bearer(amy.token));
    assert.deepEqual(rooms.json.map((r: { id: string }) => r.id), [room, '0'], 'no other room has messages');
  });

  test('chat over the WebSocket: error frames for a long message or room id; the socket stays open', async () => {
    const socket = await connectWs(`${wsUrl}/chat/ws?token=${bob.token}`);
    sockets.push(socket);
    const isError = (frame: any) => frame.type === 'error';
    socket.send({ type: 'message', data: { roomId: '0', message: 'c'.repeat(messageLength + 1) } });
    assert.deepEqual(await socket.next(isError), { type: 'error', data: { message: `A message has at most ${messageLength} characters` } });
    socket.send({ type: 'message', data: { roomId: '11:22', message: 'hi' } });
    assert.deepEqual(await socket.next(isError), { type: 'error', data: { message: `A room id has at most ${roomNameLength} characters` } });
    socket.send({ type: 'room.join', data: '11:22' });
    assert.deepEqual(await socket.next(isError), { type: 'error', data: { message: `A room id has at most ${roomNameLength} characters` } });
    socket.send({ type: 'message', data: { roomId: '0', message: 'd'.repeat(messageLength) } });
    assert.equal((await socket.next((frame) => frame.type === 'message')).data.message, 'd'.repeat(messageLength));
    assert.equal((await history('0'))[0], 'd'.repeat(messageLength));
    assert.ok(!(await history('0')).includes('c'.repeat(messageLength + 1)));
  });

  test('dm: a long message gets a 413 error frame and is neither stored nor delivered; exactly at the limit goes', async () => {
    const [uma, vic] = [await dmRegister(server.url, 'uma'), await dmRegister(server.url, 'vic')];
    const vicSocket = await connectWs(`${wsUrl}/dm/chats/uma`, { headers: bearer(vic) });
    const umaSocket = await connectWs(`${wsUrl}/dm/chats/vic`, { headers: bearer(uma) });
    sockets.push(vicSocket, umaSocket);
    umaSocket.send('e'.repeat(messageLength + 1));
    assert.deepEqual(await umaSocket.next(), { code: '413', message: `message is too long: at most ${messageLength} characters`, content: null });
    umaSocket.send('😀'.repeat(messageLength));
    const delivered = await vicSocket.next();
    assert.equal(delivered.body, '😀'.repeat(messageLength));
    assert.equal(delivered.id, 1, 'the refused message took no id');
    const stored = await call(server.url, 'GET', '/dm/chats/uma/messages', undefined, bearer(vic));
    assert.deepEqual(stored.json.content.map((m: { body: string }) => m.body), ['😀'.repeat(messageLength)]);
    assert.equal(umaSocket.ws.readyState, umaSocket.ws.OPEN);
  });

  test('notify: a group id past room_name_length is seed 000’s validation error; exactly at it is created', async () => {
    const auth = bearer(await clientToken(server.url));
    assert.equal((await call(server.url, 'POST', '/api/group', { group_id: 'abc' }, auth)).status, 201);
    assert.equal((await call(server.url, 'POST', '/notify/api/group', { name: 'xyz' }, auth)).status, 201, 'the name field too');
    for (const body of [{ group_id: 'abcd' }, { name: 'wxyz' }]) {
      const refused = await call(server.url, 'POST', '/api/group', body, auth);
      assert.deepEqual([refused.status, refused.json], [400, { error: 'Validation error', detail: { group_id: `Group id has at most ${roomNameLength} characters` } }]);
    }
    const groups = await call(server.url, 'GET', '/api/group', undefined, auth);
    assert.deepEqual(groups.json.list.map((g: { group_id: string }) => g.group_id).sort(), ['abc', 'xyz']);
  });
});
