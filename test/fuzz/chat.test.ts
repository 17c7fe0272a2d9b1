// Hub chat (seed 002) under bad input, property-based (issue 11): every HTTP route, under /chat and
// at the root (where POST /login and GET /users are shared with dm and settled by content), with the
// session as cookie, Bearer or ?token= (valid, forged, missing); the /chat/ws frames room.join,
// message and unknown ones with hostile data; raw protocol violations; the EventSource framing with
// CR/LF in messages and resume ids. See test/fuzz/support.ts.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { escapeHtml } from '../../src/hubs/chat/frames.ts';
import { signingKey, startFlashhub, tempDir, type RunningFlashhub } from '../support/flashhub.ts';
import {
  assertAlive,
  assertAnswer,
  assertForgedRefused,
  badToken,
  body,
  bodyField,
  bodyHeaders,
  check,
  closedWithin,
  depthBomb,
  encodeBytes,
  fc,
  fuzzBodyLimit,
  handshakeHeaders,
  hostileJson,
  hostileString,
  hugeString,
  invalidUtf8,
  isObjectValue,
  isUnrouted,
  objectOf,
  openRawSse,
  openSocket,
  protocolViolations,
  query,
  request,
  runs,
  segment,
  StateGuard,
  coercionFailureLine,
  shaped,
  signatureStatus,
  sseInjections,
  Tally,
  upgradeRequest,
  violationCloseCodes,
  withDeepField,
  writeRaw,
  wrongValue,
  type Answer,
  type Body,
  type FuzzSocket,
  type Hub,
  type RequestSpec,
  type SseRules,
  rootLoginHub,
} from './support.ts';

const bodyLimit = fuzzBodyLimit;
const frameLimit = 64 * 1024;
const sseRules: SseRules = { allowed: ['id', 'data'], idPattern: /^[0-9a-f]+-\d+$/ };
const headerSafe = (value: string) => value.replace(/[^\t\x20-\x7e\x80-\xff]/g, '?');

interface Auth {
  label: string;
  headers: Record<string, string>;
  query: string;
  /** The token, when it is one the server may never have signed. */
  forged?: string;
}

/** The rooms whose history the checks follow: General and Adam's two private rooms of the demo. */
const followedRooms = ['0', '1:2', '1:3'];


function adamMayJoin(room: string): boolean {
  if (room === '0') return true;
  const match = /^([1-9]\d{0,14}):([1-9]\d{0,14})$/.exec(room);
  return match !== null && Number(match[1]) < Number(match[2]) && (match[1] === '1' || match[2] === '1');
}

describe('chat: bad input, property-based', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let server: RunningFlashhub;
  let port: number;
  let wsBase: string;
  let master: Uint8Array;
  const tokens: Record<string, string> = {};
  const tally = new Tally();
  const started = Date.now();
  const sockets: FuzzSocket[] = [];

  const login = async (username: string): Promise<string> => {
    const answer = await request(port, { method: 'POST', path: '/chat/login', headers: { 'content-type': 'application/json' }, body: Buffer.from(JSON.stringify({ username })) });
    assert.equal(answer.status, 200, answer.text);
    const cookie = String(answer.headers['set-cookie'] ?? '');
    const match = /session=([^;]+)/.exec(cookie);
    assert.ok(match, cookie);
    return match[1]!;
  };

  const newestIds = async (room: string): Promise<number> => {
    const answer = await request(port, { method: 'GET', path: `/chat/room/${room}/messages?size=1`, headers: { authorization: `Bearer ${tokens.Adam}` } });
    assert.equal(answer.status, 200, answer.text);
    return (answer.json as { id: number }[])[0]?.id ?? 0;
  };

  const snapshot = async (): Promise<string> => {
    const users = await request(port, { method: 'GET', path: '/dm/users', headers: { authorization: `Bearer ${tokens.Adam}` } });
    assert.equal(users.status, 200, users.text);
    const rooms = await request(port, { method: 'GET', path: '/chat/rooms/1', headers: { authorization: `Bearer ${tokens.Adam}` } });
    assert.equal(rooms.status, 200, rooms.text);
    const newest = [];
    for (const room of followedRooms) newest.push(await newestIds(room));
    return JSON.stringify({ users: (users.json as { content: unknown[] }).content, rooms: rooms.json, newest });
  };

  const guard = new StateGuard({ port: () => port, tally, snapshot, state: 'users, rooms or history', ownPrefix: '/chat/' });
  const exercise = (hub: Hub, label: string, spec: RequestSpec, changes: boolean) => guard.exercise(hub, label, spec, changes);

  let auth: fc.Arbitrary<Auth>;
  const prefix = fc.constantFrom('/chat', '');
  const username = fc.oneof(fc.constantFrom('Adam', 'adam', 'Kyle', 'newchatter', 'user@volunteer-vision.com', 'a'), fc.stringMatching(/^[A-Za-z][A-Za-z0-9._-]{0,10}$/));
  const roomId = fc.constantFrom('0', '1:2', '1:3', '2:3', '1:9999', '1:1', '2:1', '00', '0:1', '1:2:3', ' 0', '-1:2', '1e0:2');
  const text = fc.oneof(fc.string({ maxLength: 20 }), hostileString, fc.constantFrom(...sseInjections), hugeString);

  before(async () => {
    dir = await tempDir('flashhub-fuzz-chat-');
    server = await startFlashhub(['--data', dir.path, '--demo'], {
      env: { FLASHHUB_BODY_LIMIT: String(bodyLimit), FLASHHUB_FRAME_LIMIT: String(frameLimit), FLASHHUB_LOGIN_ATTEMPTS_PER_MINUTE: '100000', FLASHHUB_MESSAGES_PER_SECOND: '100000' },
    });
    port = server.port;
    wsBase = server.url.replace('http', 'ws');
    master = await signingKey(dir.path);
    for (const name of ['Adam', 'Kyle']) tokens[name] = await login(name);
    const me = await request(port, { method: 'GET', path: '/chat/me', headers: { cookie: `session=${tokens.Adam}` } });
    assert.deepEqual(me.json, { id: '1', username: 'Adam' });

    const adam = tokens.Adam!;
    const forged = badToken(master, 'user', adam);
    auth = fc.oneof(
      { weight: 2, arbitrary: fc.constant<Auth>({ label: 'cookie', headers: { cookie: `session=${adam}` }, query: '' }) },
      { weight: 2, arbitrary: fc.constant<Auth>({ label: 'bearer', headers: { authorization: `Bearer ${adam}` }, query: '' }) },
      { weight: 1, arbitrary: fc.constant<Auth>({ label: '?token=', headers: {}, query: `token=${adam}` }) },
      { weight: 1, arbitrary: fc.constant<Auth>({ label: 'none', headers: {}, query: '' }) },
      { weight: 1, arbitrary: forged.map((t): Auth => ({ label: 'forged cookie', headers: { cookie: headerSafe(`session=${t}`) }, query: '', forged: headerSafe(t) })) },
      { weight: 1, arbitrary: forged.map((t): Auth => ({ label: 'forged bearer', headers: { authorization: headerSafe(`Bearer ${t}`) }, query: '', forged: headerSafe(t) })) },
      { weight: 1, arbitrary: forged.map((t): Auth => ({ label: 'forged ?token=', headers: {}, query: `token=${encodeBytes(t)}`, forged: t })) },
      { weight: 1, arbitrary: hostileString.map((h): Auth => ({ label: 'odd cookie', headers: { cookie: headerSafe(h) }, query: '' })) },
    );
  });

  after(async () => {
    for (const socket of sockets) socket.ws.terminate();
    await server?.stop();
    await dir?.remove();
  });

  /** Adds the auth's ?token= to a path that may already have a query. */
  const withAuth = (path: string, a: Auth) => (a.query === '' ? path : `${path}${path.includes('?') ? '&' : '?'}${a.query}`);

  test('GET|POST /login (open login: names are created, bad ones refused)', async () => {
    const fields = { username, password: fc.constantFrom('', 'start123', 'wrong-password', 'x') };
    await check(
      fc.record({ prefix, method: fc.constantFrom('GET', 'POST'), body: body(fields), q: query({ username }), override: fc.option(fc.constantFrom('chat', 'dm', 'notify', '')) }),
      async ({ prefix: p, method, body: b, q, override }) => {
        const hub = p === '' && method === 'POST' ? rootLoginHub(b, override ?? undefined) : 'chat';
        const headers = bodyHeaders(b, override === null ? {} : { 'x-flashhub-hub': override });
        await exercise(hub, `${method} /login${hub === 'dm' ? ' (to dm)' : ''}`, { method, path: `${p}/login${q}`, headers, body: b.bytes, chunked: b.chunked, kind: b.label }, true);
      },
      runs(40),
    );
  });

  test('GET|POST /logout and GET /me', async () => {
    await check(
      fc.record({ prefix, route: fc.constantFrom('GET /logout', 'POST /logout', 'GET /me'), auth, fresh: fc.boolean() }),
      async ({ prefix: p, route, auth: a, fresh }) => {
        const [method, path] = route.split(' ') as [string, string];
        let spec: RequestSpec = { method, path: withAuth(`${p}${path}`, a), headers: a.headers };
        // A logout revokes the token it is given: Adam's stays usable, a throwaway one is logged out.
        // (So does any token with Adam's signature, written another way: see the todo tests.)
        const adamsOwn = ['cookie', 'bearer', '?token='].includes(a.label) || (a.forged !== undefined && signatureStatus(master, 'user', a.forged) !== 'garbage');
        if (path === '/logout' && (adamsOwn || fresh)) {
          const throwaway = await login('Kyle');
          spec = { method, path: `${p}${path}`, headers: { authorization: `Bearer ${throwaway}` } };
        }
        await exercise('chat', route, spec, false);
      },
      runs(30),
    );
  });

  test('GET /users/online and GET /users?ids[]= (at the root, GET /users without ids is dm)', async () => {
    const idText = fc.oneof(fc.integer({ min: -1, max: 12 }).map(String), fc.constantFrom('1,2', '1,,2', '1e0', '0x1', '01', ' 1', '9007199254740993'));
    await check(
      fc.record({ prefix, online: fc.boolean(), q: query({ 'ids[]': idText, ids: idText }), override: fc.option(fc.constantFrom('chat', 'dm')) }),
      async ({ prefix: p, online, q, override }) => {
        const path = `${p}/users${online ? '/online' : ''}${q}`;
        const hasIds = /(^|[?&])ids(\[\])?=/.test(q);
        const hub: Hub = online || p !== '' ? 'chat' : (override ?? (hasIds ? 'chat' : 'dm'));
        await exercise(hub, online ? 'GET /users/online' : `GET /users${hub === 'dm' ? ' (to dm)' : ''}`, { method: 'GET', path, headers: override === null ? {} : { 'x-flashhub-hub': override } }, false);
      },
      runs(30),
    );
  });

  test('GET /rooms/:userId', async () => {
    await check(
      fc.record({ prefix, auth, id: segment(fc.constantFrom('1', '2', '01', '0', '-1', '1.0')) }),
      async ({ prefix: p, auth: a, id }) => {
        const answer = await exercise('chat', 'GET /rooms/:userId', { method: 'GET', path: withAuth(`${p}/rooms/${id}`, a), headers: a.headers }, false);
        assertForgedRefused(tally, master, 'user', a.forged, answer, 'GET /rooms/:userId');
      },
      runs(30),
    );
  });

  test('GET /room/:roomId/messages', async () => {
    const count = fc.oneof(fc.integer({ min: -1, max: 600 }).map(String), fc.constantFrom('100001', '1e2', '0x10', '', ' 5'));
    await check(
      fc.record({ prefix, auth, room: segment(roomId), q: query({ offset: count, size: count, before: count }) }),
      async ({ prefix: p, auth: a, room, q }) => {
        const answer = await exercise('chat', 'GET /room/:roomId/messages', { method: 'GET', path: withAuth(`${p}/room/${room}/messages${q}`, a), headers: a.headers }, false);
        assertForgedRefused(tally, master, 'user', a.forged, answer, 'GET /room/:roomId/messages');
      },
      runs(30),
    );
  });

  test('POST /room/:roomId/messages', async () => {
    await check(
      fc.record({ prefix, auth, room: segment(roomId), body: body({ message: text, roomId, from: fc.constantFrom<unknown>(2, '2') }) }),
      async ({ prefix: p, auth: a, room, body: b }) => {
        const answer = await exercise('chat', 'POST /room/:roomId/messages', { method: 'POST', path: withAuth(`${p}/room/${room}/messages`, a), headers: bodyHeaders(b, a.headers), body: b.bytes, chunked: b.chunked, kind: b.label }, true);
        if (answer.status === 201) assert.equal((answer.json as { from: number }).from, 1, 'the sender is the session user, never a field');
        assertForgedRefused(tally, master, 'user', a.forged, answer, 'POST /room/:roomId/messages');
      },
      runs(40),
    );
  });

  test('POST /room', async () => {
    const userId = fc.oneof(fc.constantFrom<unknown>(1, 2, 3, '1', '3', 9999, 0, -1, 1.5), wrongValue);
    await check(
      fc.record({ prefix, auth, body: body({ user1: userId, user2: userId }) }),
      async ({ prefix: p, auth: a, body: b }) => {
        const answer = await exercise('chat', 'POST /room', { method: 'POST', path: withAuth(`${p}/room`, a), headers: bodyHeaders(b, a.headers), body: b.bytes, chunked: b.chunked, kind: b.label }, true);
        assertForgedRefused(tally, master, 'user', a.forged, answer, 'POST /room');
      },
      runs(30),
    );
  });

  test('GET /stream (session, Last-Event-ID, ?lastEventId=)', async () => {
    await check(
      fc.record({ prefix, auth, q: query({ lastEventId: fc.constantFrom('0', 'x-1', '') }), header: fc.option(hostileString.map(headerSafe)) }),
      async ({ prefix: p, auth: a, q, header }) => {
        const path = withAuth(`${p}/stream${q}`, a);
        const answer = await exercise('chat', 'GET /stream', { method: 'GET', path, headers: { ...a.headers, ...(header === null ? {} : { 'last-event-id': header }) } }, false);
        assertForgedRefused(tally, master, 'user', a.forged, answer, 'GET /stream');
      },
      runs(30),
    );
  });

  test('methods and paths no route takes: never a 5xx', async () => {
    await check(
      fc.record({ prefix, method: fc.constantFrom('PATCH', 'PUT', 'DELETE', 'POST', 'GET', 'OPTIONS', 'HEAD'), path: fc.constantFrom('/me', '/users/online', '/rooms/1', '/room', '/room/0/messages', '/stream', '/login'), auth, tail: fc.constantFrom('', '/', '//', '/x', '/%2e%2e', '%00') }),
      async ({ prefix: p, method, path, auth: a, tail }) => {
        tally.add('other methods and paths');
        const answer = await request(port, { method, path: withAuth(`${p}${path}${tail}`, a), headers: a.headers });
        assert.ok(answer.status < 500, `${method} ${p}${path}${tail}: ${answer.status} ${answer.text}`);
        guard.forget();
      },
      runs(30),
    );
  });

  test('the /chat/ws upgrade: sessions, resume ids and broken handshakes', async () => {
    await check(
      fc.record({ auth, q: query({ lastEventId: fc.constantFrom('0', 'x-1', '') }), headers: handshakeHeaders }),
      async ({ auth: a, q, headers }) => {
        tally.add('upgrade /chat/ws');
        const answer = await upgradeRequest(port, withAuth(`/chat/ws${q}`, a), { ...a.headers, ...headers });
        assert.ok(answer.status < 500, `${answer.status} ${answer.text}`);
        if (answer.status >= 400 && answer.json !== undefined) assertAnswer('chat', 'upgrade /chat/ws', answer);
      },
      runs(30),
    );
  });

  test('/chat/ws frames: room.join, message and unknown ones with hostile data', async () => {
    const open = async () => {
      const socket = await openSocket(`${wsBase}/chat/ws`, { headers: { cookie: `session=${tokens.Adam}` } });
      sockets.push(socket);
      return socket;
    };
    let adam = await open();
    const kyle = await openSocket(`${wsBase}/chat/ws`, { headers: { cookie: `session=${tokens.Kyle}` } });
    sockets.push(kyle);
    const newestBefore = await Promise.all(followedRooms.map(newestIds));
    const posted = new Map<string, number>();

    type Outgoing = { label: string; wire: string | Buffer; binary: boolean; frame?: unknown; closes?: number[]; deep?: boolean };
    const join = fc.oneof(fc.constantFrom('0', '1:2', '1:3', '2:3', '1:9999', '01:2', '1:2:3', ' 0', ''), wrongValue).map((data) => ({ type: 'room.join', data }));
    const message = fc.oneof({ weight: 4, arbitrary: shaped({ roomId: fc.oneof(roomId, fc.constantFrom<unknown>(0, ['0'])), message: text, from: fc.constantFrom(2) }) }, { weight: 1, arbitrary: wrongValue }).map((data) => ({ type: 'message', data }));
    const unknown = fc.record({ type: fc.oneof(hostileString, wrongValue), data: hostileJson });
    const objectFrame = fc
      .tuple(fc.oneof(join, message, unknown), fc.array(fc.tuple(fc.constantFrom('__proto__', 'constructor', 'id', 'from', 'x'), hostileJson), { maxLength: 2 }))
      .map(([f, extra]): Outgoing => {
        const frame = objectOf([['type', f.type], ['data', f.data], ...extra]);
        const label = f.type === 'room.join' || f.type === 'message' ? f.type : 'unknown type';
        const wire = JSON.stringify(frame);
        if (Buffer.byteLength(wire) > frameLimit) return { label: 'over frame_limit', wire, binary: false, closes: [1009] };
        return { label, wire, binary: false, frame };
      });
    const rawFrame = fc.oneof(
      fc.constantFrom('{', 'null', '[]', '"message"', '42', '', '{"type":"message"', '[{"type":"room.join","data":"0"}]').map((wire): Outgoing => ({ label: 'not a frame', wire, binary: false })),
      fc.constant<Outgoing>({ label: 'over frame_limit', wire: JSON.stringify({ type: 'message', data: { roomId: '0', message: 'x'.repeat(frameLimit) } }), binary: false, closes: [1009] }),
      fc
        .tuple(fc.constantFrom('roomId', 'message'), depthBomb.filter((bomb) => bomb.length < frameLimit - 100))
        .map(([field, bomb]): Outgoing => {
          const wire = `{"type":"message","data":${withDeepField({ roomId: '0', message: 'deep' }, field, bomb)}}`;
          return { label: `deeply nested ${field}`, wire, binary: false, deep: true };
        }),
      invalidUtf8.map((bad): Outgoing => ({ label: 'invalid UTF-8', wire: Buffer.concat([Buffer.from('{"type":"message","data":{"roomId":"0","message":"'), bad, Buffer.from('"}}')]), binary: false, closes: [1007] })),
      fc.uint8Array({ maxLength: 32 }).map((bytes): Outgoing => ({ label: 'binary frame', wire: Buffer.from(bytes), binary: true })),
    );
    const isReply = (f: any) => f?.type === 'error' || (f?.type === 'message' && f.data?.from === 1);

    await check(
      fc.oneof({ weight: 6, arbitrary: objectFrame }, { weight: 1, arbitrary: rawFrame }),
      async (outgoing) => {
        tally.add(`/chat/ws frame: ${outgoing.label}`);
        adam.ws.send(outgoing.wire, { binary: outgoing.binary });
        if (outgoing.closes) {
          const closed = await closedWithin(adam);
          assert.ok(outgoing.closes.includes(closed.code), `${outgoing.label}: closed ${closed.code} ${closed.reason}`);
          if (closed.code === 1009) assert.equal(closed.reason, 'frame too large');
          adam = await open();
          return;
        }
        const frame = outgoing.frame as { type?: unknown; data?: unknown } | undefined;
        const data = frame?.data;
        // A join of a room Adam may see is the one frame with no answer.
        // (README: General, or "a:b" with a < b; the room need not exist yet, and joining one that
        // includes Adam is allowed even when the other user does not exist: it changes nothing.)
        const joinable = outgoing.label === 'room.join' && typeof data === 'string' && adamMayJoin(data);
        if (joinable) {
          await new Promise((resolve) => setTimeout(resolve, 20));
          assert.deepEqual(adam.frames.filter(isReply), [], 'a join was answered');
        } else {
          const reply = await adam.take(isReply, 5000);
          const roomIdValue = typeof data === 'object' && data !== null && Object.hasOwn(data, 'roomId') ? (data as Record<string, unknown>).roomId : undefined;
          if (reply.type === 'error') {
            assert.notEqual(reply.data?.message, 'Internal Server Error', `internal error for ${String(outgoing.wire).slice(0, 300)}`);
            assert.equal(typeof reply.data?.message, 'string', JSON.stringify(reply));
          } else {
            assert.equal(outgoing.label, 'message', `a message came of ${JSON.stringify(outgoing.wire).slice(0, 200)}`);
            const own = typeof data === 'object' && data !== null && !Array.isArray(data) ? (data as Record<string, unknown>) : {};
            const sent = Object.hasOwn(own, 'message') ? own.message : undefined;
            assert.equal(typeof sent, 'string', `posted a message the frame does not carry: ${String(outgoing.wire).slice(0, 300)}`);
            assert.equal(reply.data.message, escapeHtml(sent as string));
            assert.equal(reply.data.from, 1);
            posted.set(reply.data.roomId, (posted.get(reply.data.roomId) ?? 0) + 1);
          }
        }
        assert.ok(adam.isOpen(), 'the socket closed');
        adam.frames.splice(0);
        kyle.frames.splice(0);
      },
      runs(150),
    );
    // History grew by exactly the messages that were answered as posted.
    const newestAfter = await Promise.all(followedRooms.map(newestIds));
    followedRooms.forEach((room, i) => assert.equal(newestAfter[i]! - newestBefore[i]!, posted.get(room) ?? 0, `room ${room}`));
    assert.ok(kyle.isOpen(), "Kyle's socket was closed");
  });

  test('/chat/ws: frames that break the WebSocket protocol close that socket only', async () => {
    const kyle = await openSocket(`${wsBase}/chat/ws`, { headers: { cookie: `session=${tokens.Kyle}` } });
    sockets.push(kyle);
    await check(
      protocolViolations,
      async (violation) => {
        tally.add(`/chat/ws protocol violation: ${violation.label}`);
        const socket = await openSocket(`${wsBase}/chat/ws`, { headers: { cookie: `session=${tokens.Adam}` } });
        sockets.push(socket);
        writeRaw(socket, violation.bytes);
        const closed = await closedWithin(socket);
        assert.ok(violationCloseCodes.includes(closed.code), `${violation.label}: closed with ${closed.code} ${closed.reason}`);
        kyle.sendText('{"type":"nope"}');
        await kyle.take((f) => f?.type === 'error');
      },
      runs(30),
    );
  });

  test('bodies over body_limit: 413 in the chat shape, chunked', async () => {
    const big = Buffer.from(JSON.stringify({ message: 'x'.repeat(bodyLimit) }));
    for (const path of ['/chat/room/0/messages', '/room/0/messages', '/chat/login', '/chat/room']) {
      tally.add('over body_limit');
      const before = await snapshot();
      const answer = await request(port, { method: 'POST', path, headers: { 'content-type': 'application/json', authorization: `Bearer ${tokens.Adam}` }, body: big, chunked: true });
      assert.equal(answer.status, 413, `${path}: ${answer.text}`);
      assertAnswer('chat', path, answer);
      assert.equal(await snapshot(), before);
    }
  });

  test('SSE framing: messages with CR, LF and field injections, hostile resume ids', async () => {
    const stream = await openRawSse(port, `/chat/stream?token=${tokens.Kyle}`, sseRules);
    assert.equal(stream.status, 200);
    await check(
      fc.oneof(fc.constantFrom(...sseInjections), hostileString, fc.array(fc.constantFrom(...sseInjections), { minLength: 1, maxLength: 4 }).map((parts) => parts.join('x'))),
      async (message) => {
        tally.add('SSE message injection');
        const answer = await request(port, { method: 'POST', path: '/chat/room/1:2/messages', headers: { 'content-type': 'application/json', authorization: `Bearer ${tokens.Adam}` }, body: Buffer.from(JSON.stringify({ message })) });
        guard.forget();
        if (answer.status !== 201) {
          assert.equal(answer.status, 400, answer.text);
          assert.ok(message.trim() === '' || message.length > 4096, `refused ${JSON.stringify(message)}`);
          return;
        }
        let event;
        do event = await stream.next(5000);
        while ((event.data as { type: string }).type !== 'message');
        assert.deepEqual(stream.problems, []);
        assert.equal((event.data as { data: { message: string } }).data.message, escapeHtml(message));
      },
      runs(40),
    );
    // Usernames and room ids reach the stream too (user.connected, show.room): injected ones must be
    // refused before they get there.
    await check(
      fc.record({ name: fc.oneof(fc.constantFrom(...sseInjections), fc.constantFrom(...sseInjections).map((i) => `Adam${i}`)), room: fc.oneof(fc.constantFrom(...sseInjections), fc.constantFrom(...sseInjections).map((i) => `1:2${i}`)) }),
      async ({ name, room }) => {
        tally.add('SSE username and room id injection');
        const loginAnswer = await request(port, { method: 'POST', path: '/chat/login', headers: { 'content-type': 'application/json' }, body: Buffer.from(JSON.stringify({ username: name })) });
        assert.equal(loginAnswer.status, 400, loginAnswer.text);
        const posted = await request(port, { method: 'POST', path: `/chat/room/${encodeBytes(room)}/messages`, headers: { 'content-type': 'application/json', authorization: `Bearer ${tokens.Adam}` }, body: Buffer.from('{"message":"hi"}') });
        assert.equal(posted.status, 400, posted.text);
        assert.deepEqual(stream.problems, []);
      },
      runs(10),
    );
    stream.close();
    assert.deepEqual(stream.problems, []);
    await check(
      fc.record({ param: fc.option(fc.oneof(hostileString, fc.constantFrom(...sseInjections))), header: fc.option(hostileString.map(headerSafe)) }),
      async ({ param, header }) => {
        tally.add('SSE resume ids');
        const path = `/chat/stream?token=${tokens.Kyle}${param === null ? '' : `&lastEventId=${encodeBytes(param)}`}`;
        const resumed = await openRawSse(port, path, sseRules, header === null ? {} : { 'last-event-id': header });
        assert.equal(resumed.status, 200);
        await resumed.collect(50);
        resumed.close();
        assert.deepEqual(resumed.problems, []);
      },
      runs(20),
    );
  });

  // Counterexamples the properties found, kept as plain tests: `todo` while the product bug is open.
  describe('known bugs found by the properties', () => {
    const adam = () => ({ 'content-type': 'application/json', authorization: `Bearer ${tokens.Adam}` });

    test('POST /room with user1 nested 6,000 arrays deep is a 400, not a 500', async () => {
      const answer = await request(port, { method: 'POST', path: '/chat/room', headers: adam(), body: Buffer.from(`{"user1":${'['.repeat(6000)}1${']'.repeat(6000)},"user2":2}`) });
      assert.equal(answer.status, 400, answer.text);
      assertAnswer('chat', 'POST /chat/room', answer);
    });

    test('a /chat/ws message whose roomId is nested 6,000 arrays deep is refused for its depth, not an internal error', async () => {
      const socket = await openSocket(`${wsBase}/chat/ws`, { headers: { cookie: `session=${tokens.Adam}` } });
      sockets.push(socket);
      socket.sendText(`{"type":"message","data":{"roomId":${'['.repeat(6000)}"0"${']'.repeat(6000)},"message":"x"}}`);
      const reply = await socket.take((f) => f?.type === 'error');
      socket.close();
      assert.deepEqual(reply.data, { message: 'JSON nested deeper than 64 levels' });
    });

    test('a token whose signature is written another way (non-canonical base64url) is refused', async () => {
      const token = await login('Kyle');
      const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
      const variant = token.slice(0, -1) + alphabet[alphabet.indexOf(token.at(-1)!) ^ 1];
      assert.equal(signatureStatus(master, 'user', variant), 'non-canonical');
      const me = await request(port, { method: 'GET', path: '/chat/me', headers: { authorization: `Bearer ${variant}` } });
      assert.equal(me.json, null, 'the variant is a valid session');
    });

    test('POST /room with user1 {"toString":1} is a 400, not a 500', async () => {
      const answer = await request(port, { method: 'POST', path: '/chat/room', headers: adam(), body: Buffer.from('{"user1":{"toString":1},"user2":2}') });
      assert.equal(answer.status, 400, answer.text);
      assertAnswer('chat', 'POST /chat/room', answer);
    });

    test('a /chat/ws message whose roomId is {"toString":"Adam"} gets "Invalid room id", not an internal error', async () => {
      const socket = await openSocket(`${wsBase}/chat/ws`, { headers: { cookie: `session=${tokens.Adam}` } });
      sockets.push(socket);
      socket.sendText('{"type":"message","data":{"roomId":{"toString":"Adam"},"message":"x"}}');
      const reply = await socket.take((f) => f?.type === 'error');
      socket.close();
      assert.deepEqual(reply.data, { message: 'Invalid room id' });
    });

    test('a path no route takes under /chat/ answers 404 in the chat shape', async () => {
      const answer = await request(port, { method: 'GET', path: '/chat/rooms/.' });
      assert.equal(answer.status, 404);
      assertAnswer('chat', 'GET /chat/rooms/.', answer);
    });

    test('a declared Content-Length over body_limit answers 413 in the chat shape', async () => {
      const answer = await request(port, { method: 'POST', path: '/chat/room/0/messages', headers: adam(), body: Buffer.alloc(bodyLimit + 1, 0x20) });
      assert.equal(answer.status, 413);
      assertAnswer('chat', 'POST /chat/room/0/messages (over body_limit)', answer);
    });
  });

  test('afterwards: alive, no error logged', async (t) => {
    await assertAlive(server, coercionFailureLine);
    for (const line of tally.lines('chat')) t.diagnostic(line);
    t.diagnostic(`chat: ${((Date.now() - started) / 1000).toFixed(1)} s`);
  });
});
