// Issue 11, hardening: auth and isolation. A user can never read another user's notifications,
// private room, dm history or acks; each token kind works only where it may; expired tokens close
// live streams and sockets; login attempts are rate-limited; WebSocket Origins are checked and CORS
// is as configured; no secret or token is ever written to the log.
//
// What the hub suites already check is not repeated one by one; this file goes across hubs
// systematically (a matrix of token kinds × endpoints, the same isolation questions asked of each
// hub) and ends by scanning every log line the server wrote during the file for every secret used.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import { Tokens } from '../../src/core/tokens.ts';
import { call as callJson, type Answer } from '../support/cluster.ts';
import { runCli, signingKey, startFlashhub, tempDir, waitForLog, type RunningFlashhub } from '../support/flashhub.ts';
import { openSse, type SseStream } from '../support/sse.ts';
import { connectWs, upgrade, type WsClient } from '../support/ws.ts';

const allowedOrigin = 'https://app.example';
const foreignOrigin = 'https://evil.example';
const loginLimit = 3;
const clientId = 'iso-backend';
const clientSecret = 'iso-client-secret-Zq81mW4r';
const victimClientSecret = 'iso-victim-secret-Hk27pN9s';
const passwords: Record<string, string> = {
  root: 'pw-root-J3k8Lm2q',
  alice: 'pw-alice-Q7x9v2Rt',
  bob: 'pw-bob-W4c6n1Yp',
  carol: 'pw-carol-E5u3h8Zs',
  'victim-chat': 'pw-vchat-B2g7k4Mn',
  'victim-dm': 'pw-vdm-T6r1q9Xc',
  'victim-presence': 'pw-vpres-F8d2s5Lw',
  'victim-cross': 'pw-vcross-N3y7j6Hb',
  bystander: 'pw-bystander-K9w4e1Vo',
};

/** Every secret the file uses: none of them may appear in any log line. */
const secrets = new Set<string>([clientSecret, victimClientSecret, ...Object.values(passwords)]);
function secret<T extends string>(value: T): T {
  secrets.add(value);
  // A token cut short in a log would still carry its signature.
  const parts = value.split('.');
  if (parts.length === 3 && parts[2]!.length >= 20) secrets.add(parts[2]!);
  return value;
}

let checks = 0;
/** assert.ok that counts, for the report. */
function expect(condition: unknown, message: string): void {
  checks++;
  assert.ok(condition, message);
}
function expectEqual<T>(actual: T, wanted: T, message: string): void {
  checks++;
  assert.deepEqual(actual, wanted, message);
}

/** One JSON request, the answer's body parsed when it is JSON (support/cluster.ts's call, with named options). */
function call(base: string, method: string, path: string, options: { body?: unknown; headers?: Record<string, string> } = {}): Promise<Answer> {
  return callJson(base, method, path, options.body, options.headers, 30_000);
}

/** A POST from a given local address (127.0.0.x), for the per-address login limits. */
function postFrom(localAddress: string, port: number, path: string, body: unknown): Promise<{ status: number; retryAfter?: string }> {
  return new Promise((resolve, reject) => {
    const request = http.request({ host: '127.0.0.1', port, path, method: 'POST', localAddress, headers: { 'content-type': 'application/json' } }, (response) => {
      response.resume();
      response.on('end', () => resolve({ status: response.statusCode ?? 0, retryAfter: response.headers['retry-after'] as string | undefined }));
    });
    request.on('error', reject);
    request.end(JSON.stringify(body));
  });
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('auth and isolation', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let server: RunningFlashhub;
  let base: string;
  let wsBase: string;
  let key: Uint8Array;
  /** Tokens of the server's own lifetimes, and ones that live 3 seconds. */
  let shortLived: Tokens;
  const users: Record<string, { id: number; token: string }> = {};
  let client: string;
  const streamToken = async (username: string) => secret((await call(base, 'GET', `/api/user/${username}/token`, { headers: bearer(client) })).json.access_token as string);
  const open: { close(): void }[] = [];

  before(async () => {
    dir = await tempDir();
    const added = await runCli(['user', 'add', 'root', '--admin', '--password', passwords.root!, '--data', dir.path]);
    assert.equal(added.code, 0, added.stderr);
    server = await startFlashhub(['--data', dir.path], {
      env: {
        FLASHHUB_CLIENT_ID: clientId,
        FLASHHUB_CLIENT_SECRET: clientSecret,
        FLASHHUB_ORIGINS: allowedOrigin,
        FLASHHUB_LOG_LEVEL: 'debug',
        FLASHHUB_LOGIN_ATTEMPTS_PER_MINUTE: String(loginLimit),
      },
    });
    base = server.url;
    wsBase = base.replace('http', 'ws');
    key = await signingKey(dir.path);
    for (const encoding of ['hex', 'base64', 'base64url'] as const) secrets.add(Buffer.from(key).toString(encoding).replace(/=+$/, ''));
    shortLived = new Tokens(key, { client: 3, user: 3, stream: 3 });
    for (const name of ['alice', 'bob', 'carol', 'victim-chat', 'victim-dm', 'victim-presence', 'victim-cross', 'bystander']) {
      const registered = await call(base, 'POST', '/dm/register', { body: { name, username: name, password: passwords[name] } });
      assert.equal(registered.status, 200, JSON.stringify(registered.json));
      const token = secret(registered.json.content.token as string);
      users[name] = { token, id: (await call(base, 'GET', '/presence/users/me', { headers: bearer(token) })).json.data.id };
    }
    const rootLogin = await call(base, 'POST', '/dm/login', { body: { username: 'root', password: passwords.root } });
    assert.equal(rootLogin.status, 200);
    users.root = { token: secret(rootLogin.json.content.token as string), id: 1 };
    const token = await call(base, 'POST', '/api/auth/token', { body: { client_id: clientId, client_secret: clientSecret } });
    client = secret(token.json.access_token as string);
  });

  after(async () => {
    for (const item of open.splice(0)) item.close();
    await server.stop();
    await dir.remove();
  });

  describe('token kinds: each works only where it may', () => {
    type Kind = 'none' | 'garbage' | 'forged' | 'expired-client' | 'expired-user' | 'expired-stream' | 'client' | 'stream' | 'user' | 'admin';
    const kinds: Kind[] = ['none', 'garbage', 'forged', 'expired-client', 'expired-user', 'expired-stream', 'client', 'stream', 'user', 'admin'];
    const tokens = {} as Record<Kind, string | undefined>;

    before(async () => {
      const expiring = new Tokens(key, { client: 1, user: 1, stream: 1 });
      tokens['expired-client'] = secret(await expiring.issue('client', clientId));
      tokens['expired-user'] = secret(await expiring.issue('user', String(users.alice!.id), 'alice', { email: 'alice' }));
      tokens['expired-stream'] = secret(await expiring.issue('stream', String(users.alice!.id), 'alice'));
      tokens.none = undefined;
      tokens.garbage = 'not-a-token';
      // Alice's own token with the subject changed to bob: the signature no longer matches.
      const [head, body, signature] = users.alice!.token.split('.') as [string, string, string];
      const claims = JSON.parse(Buffer.from(body, 'base64url').toString());
      tokens.forged = `${head}.${Buffer.from(JSON.stringify({ ...claims, sub: String(users.bob!.id), name: 'bob' })).toString('base64url')}.${signature}`;
      tokens.client = client;
      tokens.stream = await streamToken('alice');
      tokens.user = users.alice!.token;
      tokens.admin = users.root!.token;
      await sleep(2100); // the 1-second tokens have expired
    });

    type Outcome = { accepted: boolean; status: number | string };
    interface Endpoint {
      name: string;
      accepts: Kind[];
      try(token: string | undefined): Promise<Outcome>;
    }
    const viaHttp = (method: string, pathOf: string | (() => string), carry: 'bearer' | 'query', ok: (a: Answer) => boolean, body?: unknown) => async (token: string | undefined): Promise<Outcome> => {
      const path = typeof pathOf === 'string' ? pathOf : pathOf();
      const withToken = token === undefined ? path : carry === 'query' ? `${path}${path.includes('?') ? '&' : '?'}token=${encodeURIComponent(token)}` : path;
      const answer = await call(base, method, withToken, { body, headers: carry === 'bearer' && token !== undefined ? bearer(token) : {} });
      return { accepted: ok(answer), status: answer.status };
    };
    const status = (...codes: number[]) => (a: Answer) => codes.includes(a.status);
    const sse = (path: string) => async (token: string | undefined): Promise<Outcome> => {
      const stream = await openSse(`${base}${path}${token === undefined ? '' : `?token=${encodeURIComponent(token)}`}`);
      stream.close();
      await stream.ended;
      return { accepted: stream.status === 200, status: stream.status };
    };
    const ws = (path: string) => async (token: string | undefined): Promise<Outcome> => {
      const answer = await upgrade(server.port, `${path}${token === undefined ? '' : `?token=${encodeURIComponent(token)}`}`);
      return { accepted: answer.status === 101, status: answer.status };
    };
    const hello = async (token: string | undefined): Promise<Outcome> => {
      const socket = await connectWs(`${wsBase}/presence/ws`);
      try {
        socket.send({ type: 'HELLO', ...(token === undefined ? {} : { accesstoken: token }) });
        const reply = await socket.next((f) => f.type === 'HELLO');
        return { accepted: reply.ok === true, status: reply.ok ? 'ok' : reply.error };
      } finally {
        socket.close();
      }
    };
    const endpoints: Endpoint[] = [
      // notify: the server API takes client tokens; acknowledge also the user's own stream token.
      { name: 'GET /api/user', accepts: ['client'], try: viaHttp('GET', '/api/user', 'bearer', status(200)) },
      { name: 'POST /api/user', accepts: ['client'], try: viaHttp('POST', '/api/user', 'bearer', status(201, 409), { user_id: 'matrix-made' }) },
      { name: 'GET /api/user/alice/token', accepts: ['client'], try: viaHttp('GET', '/api/user/alice/token', 'bearer', status(200)) },
      { name: 'GET /api/group', accepts: ['client'], try: viaHttp('GET', '/api/group', 'bearer', status(200)) },
      { name: 'POST /api/message/notify', accepts: ['client'], try: viaHttp('POST', '/api/message/notify', 'bearer', status(202), { users: ['matrix-made'], payload: 'matrix' }) },
      { name: 'POST /api/message/acknowledge', accepts: ['client', 'stream'], try: viaHttp('POST', '/api/message/acknowledge', 'bearer', status(200), { user_id: 'alice', message_ids: [987654321] }) },
      { name: 'GET /notify/api/user', accepts: ['client'], try: viaHttp('GET', '/notify/api/user', 'bearer', status(200)) },
      { name: 'GET /sse', accepts: ['stream'], try: sse('/sse') },
      { name: 'GET /notify/sse', accepts: ['stream'], try: sse('/notify/sse') },
      { name: 'GET /presence/online', accepts: ['client'], try: viaHttp('GET', '/presence/online', 'bearer', status(200)) },
      // dm: user tokens (Bearer, or ?token= on the socket).
      { name: 'GET /dm/users', accepts: ['user', 'admin'], try: viaHttp('GET', '/dm/users', 'bearer', status(200)) },
      { name: 'GET /users (dm at the root)', accepts: ['user', 'admin'], try: viaHttp('GET', '/users', 'bearer', status(200)) },
      { name: 'GET /dm/chats/bob/messages', accepts: ['user', 'admin'], try: viaHttp('GET', '/dm/chats/bob/messages', 'bearer', status(200)) },
      { name: 'WS /dm/chats/bob', accepts: ['user', 'admin'], try: ws('/dm/chats/bob') },
      { name: 'WS /chats/bob', accepts: ['user', 'admin'], try: ws('/chats/bob') },
      // chat: the session (a user token) as Bearer or ?token=.
      { name: 'GET /chat/me', accepts: ['user', 'admin'], try: viaHttp('GET', '/chat/me', 'query', (a) => a.status === 200 && a.json !== null) },
      { name: 'GET /chat/room/0/messages', accepts: ['user', 'admin'], try: viaHttp('GET', '/chat/room/0/messages', 'bearer', status(200)) },
      { name: 'POST /chat/room/0/messages', accepts: ['user', 'admin'], try: viaHttp('POST', '/chat/room/0/messages', 'bearer', status(201), { message: 'matrix' }) },
      { name: 'GET /chat/rooms/:alice', accepts: ['user'], try: viaHttp('GET', () => `/chat/rooms/${users.alice!.id}`, 'bearer', status(200)) },
      { name: 'GET /chat/stream', accepts: ['user', 'admin'], try: sse('/chat/stream') },
      { name: 'WS /chat/ws', accepts: ['user', 'admin'], try: ws('/chat/ws') },
      // presence: user tokens in HELLO and on the identity route.
      { name: 'GET /presence/users/me', accepts: ['user', 'admin'], try: viaHttp('GET', '/presence/users/me', 'bearer', status(200)) },
      { name: 'GET /api/v2/users/me', accepts: ['user', 'admin'], try: viaHttp('GET', '/api/v2/users/me', 'bearer', status(200)) },
      { name: 'presence HELLO', accepts: ['user', 'admin'], try: hello },
      // the web console: the chat session; its admin API for admins only.
      { name: 'GET /ui/api/me', accepts: ['user', 'admin'], try: viaHttp('GET', '/ui/api/me', 'bearer', status(200)) },
      { name: 'POST /ui/api/stream-token', accepts: ['user', 'admin'], try: viaHttp('POST', '/ui/api/stream-token', 'bearer', status(200)) },
      { name: 'GET /ui/api/admin/stats', accepts: ['admin'], try: viaHttp('GET', '/ui/api/admin/stats', 'bearer', status(200)) },
      { name: 'POST /ui/api/admin/client-token', accepts: ['admin'], try: viaHttp('POST', '/ui/api/admin/client-token', 'bearer', status(200)) },
    ];

    for (const endpoint of endpoints) {
      test(endpoint.name, async () => {
        const wrong: string[] = [];
        for (const kind of kinds) {
          const outcome = await endpoint.try(tokens[kind]);
          checks++;
          const wanted = endpoint.accepts.includes(kind);
          if (outcome.accepted !== wanted) wrong.push(`${kind}: ${wanted ? 'refused' : 'accepted'} (${outcome.status})`);
          // A refusal is a clear 4xx (or a HELLO error), never a server error.
          if (!outcome.accepted && typeof outcome.status === 'number' && (outcome.status < 400 || outcome.status >= 500) && endpoint.name !== 'GET /chat/me') {
            wrong.push(`${kind}: refused with ${outcome.status}`);
          }
        }
        assert.deepEqual(wrong, [], `${endpoint.name} accepts exactly ${endpoint.accepts.join(', ')}`);
      });
    }
  });

  describe("another user's data", () => {
    test("notify: B's stream never carries A's notifications, and B's stream token cannot acknowledge them", async () => {
      const [aliceToken, bobToken] = [await streamToken('alice'), await streamToken('bob')];
      const aliceStream = await openSse(`${base}/sse?token=${aliceToken}`);
      // Alice's token with ?user_id=bob is still alice's stream.
      const bobStream = await openSse(`${base}/sse?token=${bobToken}&user_id=alice`);
      open.push(aliceStream, bobStream);
      const drainUntil = async (stream: SseStream, payload: string) => {
        for (;;) {
          const event = await stream.next(5000);
          const data = JSON.parse(event.data);
          if (data.payload === payload) return data;
        }
      };
      const forAlice = `alice-only-${Math.random()}`;
      const forBob = `bob-only-${Math.random()}`;
      expectEqual((await call(base, 'POST', '/api/message/notify', { headers: bearer(client), body: { users: ['alice'], payload: forAlice } })).status, 202, 'notify alice');
      expectEqual((await call(base, 'POST', '/api/message/notify', { headers: bearer(client), body: { users: ['bob'], payload: forBob } })).status, 202, 'notify bob');
      const aliceGot = await drainUntil(aliceStream, forAlice);
      await drainUntil(bobStream, forBob);
      const aliceId = Number(aliceGot.id);
      // Both streams got their own; now neither may hold the other's (bob's came after alice's).
      const bobSaw: string[] = [];
      const aliceSaw: string[] = [];
      await sleep(300);
      for (const [stream, saw] of [[bobStream, bobSaw], [aliceStream, aliceSaw]] as const) {
        for (;;) {
          try {
            saw.push(JSON.parse((await stream.next(50)).data).payload);
          } catch {
            break;
          }
        }
      }
      expect(!bobSaw.includes(forAlice), "bob's stream never carries alice's notification");
      expect(!aliceSaw.includes(forBob), "alice's stream never carries bob's notification");

      const byBob = await call(base, 'POST', '/api/message/acknowledge', { headers: bearer(bobToken), body: { message_ids: [aliceId] } });
      expectEqual([byBob.status, byBob.json], [200, { acknowledged: 0 }], "bob's stream token acknowledges nothing of alice's");
      const namingAlice = await call(base, 'POST', '/api/message/acknowledge', { headers: bearer(bobToken), body: { user_id: 'alice', message_ids: [aliceId] } });
      expectEqual(namingAlice.status, 403, "bob's stream token naming alice is refused");
      const clientForBob = await call(base, 'POST', '/api/message/acknowledge', { headers: bearer(client), body: { user_id: 'bob', message_ids: [aliceId] } });
      expectEqual(clientForBob.json, { acknowledged: 0 }, "a client acknowledging for bob touches only bob's notifications");
      // Still pending for alice: a new stream of hers replays it.
      aliceStream.close();
      const again = await openSse(`${base}/sse?token=${aliceToken}`);
      open.push(again);
      expectEqual((await drainUntil(again, forAlice)).id, String(aliceId), "alice's notification is still unacknowledged");
      const byAlice = await call(base, 'POST', '/api/message/acknowledge', { headers: bearer(aliceToken), body: { message_ids: [aliceId] } });
      expectEqual(byAlice.json, { acknowledged: 1 }, 'her own stream token acknowledges it');
      again.close();
      bobStream.close();
    });

    test("chat: another pair's private room can't be read, written, joined, listed or heard, not even by resuming", async () => {
      const { alice, bob, carol } = users as Record<string, { id: number; token: string }>;
      const room = [alice!.id, bob!.id].sort((a, b) => a - b).join(':');
      const as = (who: { token: string }) => ({ headers: bearer(who.token) });
      const secretText = `private-${Math.random()}`;
      // carol listens from the start, on a stream and a socket
      const carolStream = await openSse(`${base}/chat/stream?token=${carol!.token}`);
      const carolSocket = await connectWs(`${wsBase}/chat/ws?token=${carol!.token}`);
      open.push(carolStream, carolSocket);
      expectEqual((await call(base, 'POST', `/chat/room/${room}/messages`, { ...as(alice!), body: { message: secretText } })).status, 201, 'alice posts in her room with bob');
      const barrier = `general-${Math.random()}`;
      const general = await call(base, 'POST', '/chat/room/0/messages', { ...as(alice!), body: { message: barrier } });
      expectEqual(general.status, 201, 'alice posts in General');
      // carol gets General, and nothing of the private room before it
      const carolEvents: string[] = [];
      let barrierId = '';
      for (;;) {
        const event = await carolStream.next(5000);
        carolEvents.push(event.data);
        if (event.data.includes(barrier)) {
          barrierId = event.id!;
          break;
        }
      }
      const socketFrame = await carolSocket.next((f) => f.type === 'message' && f.data.message === barrier, 5000);
      expect(socketFrame, 'carol hears General on her socket');
      expect(!carolEvents.some((e) => e.includes(secretText) || e.includes(`"id":"${room}"`)), "carol's stream has neither the private message nor its show.room");
      await carolSocket.nothing((f) => JSON.stringify(f).includes(secretText), 100);
      checks++;

      expectEqual((await call(base, 'GET', `/chat/room/${room}/messages`, as(carol!))).status, 403, 'carol cannot read the history');
      expectEqual((await call(base, 'GET', `/chat/room/${room}/messages?before=1000&size=500`, as(carol!))).status, 403, 'nor page it');
      expectEqual((await call(base, 'POST', `/chat/room/${room}/messages`, { ...as(carol!), body: { message: 'intrude' } })).status, 403, 'nor write in it');
      expectEqual((await call(base, 'POST', '/chat/room', { ...as(carol!), body: { user1: alice!.id, user2: bob!.id } })).status, 403, 'nor open it');
      expectEqual((await call(base, 'GET', `/chat/rooms/${alice!.id}`, as(carol!))).status, 403, "nor list alice's rooms");
      const carolRooms = (await call(base, 'GET', `/chat/rooms/${carol!.id}`, as(carol!))).json as { id: string }[];
      expect(!carolRooms.some((r) => r.id === room), "the room is not among carol's");
      carolSocket.send({ type: 'room.join', data: room });
      expectEqual(await carolSocket.next((f) => f.type === 'error', 3000), { type: 'error', data: { message: 'Not a member of this room' } }, 'nor join it on the socket');
      carolSocket.send({ type: 'message', data: { roomId: room, message: 'intrude' } });
      expectEqual(await carolSocket.next((f) => f.type === 'error', 3000), { type: 'error', data: { message: 'Not a member of this room' } }, 'nor post in it on the socket');

      // resuming after the barrier: a later private message is skipped for carol, General is not
      carolStream.close();
      const later = `private-later-${Math.random()}`;
      const afterBarrier = `general-after-${Math.random()}`;
      await call(base, 'POST', `/chat/room/${room}/messages`, { ...as(bob!), body: { message: later } });
      await call(base, 'POST', '/chat/room/0/messages', { ...as(bob!), body: { message: afterBarrier } });
      const resumed = await openSse(`${base}/chat/stream?token=${carol!.token}`, { 'last-event-id': barrierId });
      open.push(resumed);
      const resumedEvents: string[] = [];
      for (;;) {
        const event = await resumed.next(5000);
        resumedEvents.push(event.data);
        if (event.data.includes(afterBarrier)) break;
      }
      expect(!resumedEvents.some((e) => e.includes(later)), 'a resumed stream replays none of the private room');
      const socketResumed = await connectWs(`${wsBase}/chat/ws?token=${carol!.token}&lastEventId=${barrierId}`);
      open.push(socketResumed);
      await socketResumed.next((f) => f.type === 'message' && f.data.message === afterBarrier, 5000);
      await socketResumed.nothing((f) => JSON.stringify(f).includes(later), 100);
      checks++;
      // bob, a member, hears it (the check above is not vacuous)
      const bobHistory = (await call(base, 'GET', `/chat/room/${room}/messages`, as(bob!))).json as { message: string }[];
      expect(bobHistory.some((m) => m.message === later) && bobHistory.some((m) => m.message === secretText), 'bob, a member, reads both');
      for (const s of [resumed, socketResumed, carolSocket]) s.close();
    });

    test("dm: another pair's conversation is never visible, on the socket, in history or by resuming", async () => {
      const { alice, bob, carol } = users as Record<string, { id: number; token: string }>;
      const dmSecret = `dm-secret-${Math.random()}`;
      const carolToAlice = await connectWs(`${wsBase}/dm/chats/alice?token=${carol!.token}`);
      const carolToBob = await connectWs(`${wsBase}/dm/chats/bob?token=${carol!.token}`);
      const bobToAlice = await connectWs(`${wsBase}/dm/chats/alice?token=${bob!.token}`);
      const aliceToBob = await connectWs(`${wsBase}/dm/chats/bob?token=${alice!.token}`);
      open.push(carolToAlice, carolToBob, bobToAlice, aliceToBob);
      aliceToBob.send(dmSecret);
      const delivered = await bobToAlice.next((f) => f.body === dmSecret, 5000);
      expect(delivered.id >= 1, 'bob got it');
      const barrier = `barrier-${Math.random()}`;
      bobToAlice.send(barrier); // to alice: carol must not get this either
      const toCarol = `to-carol-${Math.random()}`;
      const bobToCarol = await connectWs(`${wsBase}/dm/chats/carol?token=${bob!.token}`);
      open.push(bobToCarol);
      bobToCarol.send(toCarol);
      await carolToAlice.next((f) => f.body === toCarol, 5000); // every socket of carol gets bob's message to her
      for (const socket of [carolToAlice, carolToBob]) {
        await socket.nothing((f) => f.body === dmSecret || f.body === barrier, 100);
        checks++;
      }
      for (const peer of ['alice', 'bob']) {
        const history = await call(base, 'GET', `/dm/chats/${peer}/messages?limit=500`, { headers: bearer(carol!.token) });
        expectEqual(history.status, 200, `carol reads her own conversation with ${peer}`);
        const bodies = (history.json.content as { body: string; from: string; to: string }[]);
        expect(!bodies.some((m) => m.body === dmSecret || m.body === barrier), `carol's conversation with ${peer} has nothing of alice and bob`);
        expect(bodies.every((m) => m.from === 'carol' || m.to === 'carol'), `every message carol sees with ${peer} involves her`);
      }
      const resumed = await connectWs(`${wsBase}/dm/chats/alice?token=${carol!.token}&after=0`);
      open.push(resumed);
      await resumed.nothing((f) => f.body === dmSecret || f.body === barrier, 300);
      checks++;
      // alice and bob read it in their history (so the checks above are not vacuous)
      const aliceHistory = await call(base, 'GET', '/dm/chats/bob/messages', { headers: bearer(alice!.token) });
      expect((aliceHistory.json.content as { body: string }[]).some((m) => m.body === dmSecret), 'alice reads her conversation with bob');
      // presence: carol's token cannot bind alice's id
      const presence = await connectWs(`${wsBase}/presence/ws`);
      open.push(presence);
      presence.send({ type: 'HELLO', userid: alice!.id, accesstoken: carol!.token });
      expectEqual((await presence.next((f) => f.type === 'HELLO')).error, 'userid mismatch', "carol's token does not say HELLO as alice");
      // ...and what carol sends is from carol, whatever the frame claims
      const alicePresence = await connectWs(`${wsBase}/presence/ws`);
      open.push(alicePresence);
      alicePresence.send({ type: 'HELLO', accesstoken: alice!.token });
      expectEqual((await alicePresence.next((f) => f.type === 'HELLO')).ok, true, 'alice says HELLO');
      presence.send({ type: 'HELLO', accesstoken: carol!.token });
      expectEqual((await presence.next((f) => f.type === 'HELLO')).ok, true, 'carol says HELLO');
      presence.send({ type: 'sendMessageToUser', id: alice!.id, from: bob!.id, userid: bob!.id, message: 'from bob, honest' });
      const spoofed = await alicePresence.next((f) => f.type === 'message', 3000);
      expectEqual([spoofed.from, spoofed.message], [carol!.id, 'from bob, honest'], 'the message is from carol');
      alicePresence.close();
      for (const s of [carolToAlice, carolToBob, bobToAlice, aliceToBob, bobToCarol, resumed, presence]) s.close();
    });
  });

  describe('expired tokens close live streams and sockets', () => {
    // Every connection opens at once with a token that lives 3 seconds; the tests then wait for them.
    let notifyStream: SseStream;
    let dmSocket: WsClient;
    let presenceSocket: WsClient;
    let chatStream: SseStream;
    let chatSocket: WsClient;
    let opened = 0;
    before(async () => {
      const { alice } = users as Record<string, { id: number; token: string }>;
      const [stream, user] = [secret(await shortLived.issue('stream', String(alice!.id), 'alice')), secret(await shortLived.issue('user', String(alice!.id), 'alice', { email: 'alice' }))];
      opened = Date.now();
      notifyStream = await openSse(`${base}/sse?token=${stream}`);
      dmSocket = await connectWs(`${wsBase}/dm/chats/bob?token=${user}`);
      presenceSocket = await connectWs(`${wsBase}/presence/ws`);
      presenceSocket.send({ type: 'HELLO', accesstoken: user });
      assert.equal((await presenceSocket.next((f) => f.type === 'HELLO')).ok, true);
      chatStream = await openSse(`${base}/chat/stream?token=${user}`);
      chatSocket = await connectWs(`${wsBase}/chat/ws?token=${user}`);
      open.push(notifyStream, dmSocket, presenceSocket, chatStream, chatSocket);
    });

    test('notify: the EventSource ends when its stream token expires', async () => {
      expectEqual(notifyStream.status, 200, 'the stream opened');
      await Promise.race([notifyStream.ended, sleep(8000)]);
      const closed = Date.now() - opened;
      expect(closed >= 1500 && closed < 8000, `ended ${closed} ms after opening, once the 3-second token expired`);
      await waitForLog(server, (line) => line.event === 'notify.stream_closed' && line.reason === 'token expired', 2000);
      checks++;
    });

    test('dm: the socket closes with 1008 "token expired"', async () => {
      const closed = await Promise.race([dmSocket.closed, sleep(8000).then(() => undefined)]);
      expectEqual(closed, { code: 1008, reason: 'token expired' }, 'dm socket closed with the reason');
    });

    test('presence: the socket is unbound with a GOODBYE saying why, and must HELLO again', async () => {
      const goodbye = await presenceSocket.next((f) => f.type === 'GOODBYE', 8000);
      expectEqual(goodbye, { type: 'GOODBYE', ok: true, reason: 'token expired' }, 'GOODBYE with the reason');
      presenceSocket.send({ type: 'getAllOnline', reqId: 'after-expiry' });
      const refused = await presenceSocket.next((f) => f.reqId === 'after-expiry', 3000);
      expectEqual([refused.ok, refused.error], [false, 'not authenticated'], 'nothing more for the expired token');
    });

    test('chat: the EventSource and the socket end when their user token expires', async () => {
      const streamEnded = await Promise.race([chatStream.ended.then(() => true), sleep(Math.max(0, opened + 5500 - Date.now())).then(() => false)]);
      const socketClosed = await Promise.race([chatSocket.closed, sleep(200).then(() => undefined)]);
      // What a socket whose token expired can still do, for the report:
      let postedAfterExpiry = false;
      if (socketClosed === undefined) {
        const text = `posted-after-expiry-${Math.random()}`;
        chatSocket.send({ type: 'message', data: { roomId: '0', message: text } });
        postedAfterExpiry = (await chatSocket.next((f) => f.type === 'message' && f.data.message === text, 3000).catch(() => undefined)) !== undefined;
      }
      assert.deepEqual(
        { streamEnded, socketClosed, postedAfterExpiry },
        { streamEnded: true, socketClosed: { code: 1008, reason: 'token expired' }, postedAfterExpiry: false },
        'the chat stream ends and the chat socket closes when their token expires',
      );
    });
  });

  describe('login attempts are rate-limited', () => {
    // The counters are fixed windows of a wall-clock minute: a case that straddled the turn of a
    // minute would see its failures forgotten halfway. Each case starts clear of the last 10 s.
    const clearOfMinuteEdge = async (): Promise<void> => {
      const intoMinute = Date.now() % 60_000;
      if (intoMinute > 50_000) await new Promise((resolve) => setTimeout(resolve, 60_000 - intoMinute + 50));
    };
    // Failures count per username (or client id) and per address, on every login route. Addresses
    // 127.0.0.x keep each case apart; only failures count, so the logins of the other tests are safe.
    interface Route {
      hub: string;
      path: string;
      body(username: string, password: string): unknown;
      victim: string;
      victimPassword: string;
      wrongStatus: number;
      subnet: number;
    }
    const routes: Route[] = [
      { hub: 'chat', path: '/chat/login', body: (username, password) => ({ username, password }), victim: 'victim-chat', victimPassword: passwords['victim-chat']!, wrongStatus: 401, subnet: 10 },
      { hub: 'dm', path: '/dm/login', body: (username, password) => ({ username, password }), victim: 'victim-dm', victimPassword: passwords['victim-dm']!, wrongStatus: 400, subnet: 30 },
      {
        hub: 'presence', path: '/presence/oauth/token', body: (username, password) => ({ grant_type: 'password', client_id: '1', client_secret: 'x', username, password }),
        victim: 'victim-presence', victimPassword: passwords['victim-presence']!, wrongStatus: 400, subnet: 50,
      },
      { hub: 'notify', path: '/api/auth/token', body: (username, password) => ({ client_id: username, client_secret: password }), victim: 'victim-client', victimPassword: victimClientSecret, wrongStatus: 400, subnet: 70 },
    ];
    before(async () => {
      const added = await runCli(['client', 'add', 'victim-client', '--secret', victimClientSecret, '--data', dir.path]);
      assert.equal(added.code, 0, added.stderr);
    });
    for (const route of routes) {
      test(`${route.hub}: ${loginLimit} failures for one name lock it from every address; ${loginLimit} from one address lock that address`, async () => {
        await clearOfMinuteEdge();
        const from = (n: number) => `127.0.0.${route.subnet + n}`;
        // per name: each failure from another address
        for (let i = 0; i < loginLimit; i++) {
          expectEqual((await postFrom(from(i), server.port, route.path, route.body(route.victim, `wrong-${i}`))).status, route.wrongStatus, `failure ${i + 1}`);
        }
        const locked = await postFrom(from(loginLimit), server.port, route.path, route.body(route.victim, route.victimPassword));
        expectEqual(locked.status, 429, 'even the right password waits, from a fresh address');
        expect(Number(locked.retryAfter) >= 1 && Number(locked.retryAfter) <= 60, `Retry-After ${locked.retryAfter}`);
        // per address: failures for many names from one address
        const address = from(10);
        for (let i = 0; i < loginLimit; i++) {
          expectEqual((await postFrom(address, server.port, route.path, route.body(`nobody-${route.hub}-${i}`, 'wrong-password'))).status, route.wrongStatus, `failure ${i + 1} from one address`);
        }
        const bystander = route.hub === 'notify' ? route.body(clientId, clientSecret) : route.body('bystander', passwords.bystander!);
        expectEqual((await postFrom(address, server.port, route.path, bystander)).status, 429, 'that address is locked for every name');
        expectEqual((await postFrom(from(11), server.port, route.path, bystander)).status, 200, 'the same name from another address is fine');
      });
    }

    test('failures for one username count on every hub that checks its password', async () => {
      await clearOfMinuteEdge();
      for (let i = 0; i < loginLimit; i++) {
        assert.equal((await postFrom(`127.0.0.${90 + i}`, server.port, '/chat/login', { username: 'victim-cross', password: `wrong-${i}` })).status, 401);
      }
      const viaDm = await postFrom('127.0.0.96', server.port, '/dm/login', { username: 'victim-cross', password: passwords['victim-cross'] });
      const viaPresence = await postFrom('127.0.0.97', server.port, '/presence/oauth/token', { grant_type: 'password', username: 'victim-cross', password: passwords['victim-cross'] });
      assert.deepEqual([viaDm.status, viaPresence.status], [429, 429], 'after the chat failures, dm and presence logins of that name wait too');
    });
  });

  describe('browsers: WebSocket Origins and CORS', () => {
    test('WebSocket upgrades: no Origin, the own origin and a configured one are let in; any other is refused before the upgrade', async () => {
      const { alice } = users as Record<string, { id: number; token: string }>;
      const paths = ['/presence/ws', '/ws/presence', `/chat/ws?token=${alice!.token}`, `/dm/chats/bob?token=${alice!.token}`, `/chats/bob?token=${alice!.token}`];
      const origins: [string | undefined, number][] = [
        [undefined, 101],
        [base, 101],
        [allowedOrigin, 101],
        [foreignOrigin, 403],
        ['null', 403],
        [`http://127.0.0.1:${server.port + 1}`, 403],
        [`${allowedOrigin}.evil.example`, 403],
        ['http://app.example', 403],
      ];
      const wrong: string[] = [];
      for (const path of paths) {
        for (const [origin, wanted] of origins) {
          const answer = await upgrade(server.port, path, origin === undefined ? {} : { Origin: origin });
          checks++;
          if (answer.status !== wanted) wrong.push(`${path.replace(/token=[^&]+/, 'token=…')} Origin ${origin}: ${answer.status}, wanted ${wanted}`);
        }
      }
      // A page elsewhere cannot ride the chat session cookie over a WebSocket.
      const withCookie = await upgrade(server.port, '/chat/ws', { Cookie: `session=${alice!.token}`, Origin: foreignOrigin });
      checks++;
      if (withCookie.status !== 403) wrong.push(`/chat/ws with the session cookie from ${foreignOrigin}: ${withCookie.status}`);
      assert.deepEqual(wrong, []);
    });

    test('CORS headers go to the configured origin only, on plain answers, preflights and streams', async () => {
      const { alice } = users as Record<string, { id: number; token: string }>;
      const stream = await streamToken('alice');
      const requests: { name: string; method: string; path: string; headers?: Record<string, string>; body?: unknown; sse?: boolean }[] = [
        { name: 'GET /healthz', method: 'GET', path: '/healthz' },
        { name: 'GET /chat/me', method: 'GET', path: '/chat/me', headers: bearer(alice!.token) },
        { name: 'GET /api/user', method: 'GET', path: '/api/user', headers: bearer(client) },
        { name: 'POST /dm/login', method: 'POST', path: '/dm/login', body: { username: 'alice', password: passwords.alice } },
        { name: 'GET /dm/users', method: 'GET', path: '/dm/users', headers: bearer(alice!.token) },
        { name: 'GET /nowhere (404)', method: 'GET', path: '/nowhere' },
        { name: 'preflight POST /api/message/notify', method: 'OPTIONS', path: '/api/message/notify', headers: { 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' } },
        { name: 'preflight GET /dm/users', method: 'OPTIONS', path: '/dm/users', headers: { 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization' } },
        { name: 'GET /chat/stream', method: 'GET', path: `/chat/stream?token=${alice!.token}`, sse: true },
        { name: 'GET /sse', method: 'GET', path: `/sse?token=${stream}`, sse: true },
      ];
      const wrong: string[] = [];
      for (const request of requests) {
        for (const origin of [allowedOrigin, foreignOrigin, undefined]) {
          const headers = { ...request.headers, ...(origin === undefined ? {} : { origin }) };
          let got: Headers;
          if (request.sse) {
            const sse = await openSse(`${base}${request.path}`, headers);
            got = sse.headers;
            sse.close();
          } else {
            got = (await call(base, request.method, request.path, { headers, body: request.body })).headers;
          }
          const allow = got.get('access-control-allow-origin');
          checks++;
          if (origin === allowedOrigin) {
            if (allow !== allowedOrigin || got.get('access-control-allow-credentials') !== 'true') wrong.push(`${request.name} from ${origin}: allow-origin ${allow}, credentials ${got.get('access-control-allow-credentials')}`);
          } else if (allow !== null) {
            wrong.push(`${request.name} from ${origin ?? 'no origin'}: allow-origin ${allow}`);
          }
        }
      }
      assert.deepEqual(wrong, []);
    });
  });

  test('a token logged out of chat is refused on every hub', async () => {
    const login = await call(base, 'POST', '/dm/login', { body: { username: 'alice', password: passwords.alice } });
    const token = secret(login.json.content.token as string);
    expectEqual((await call(base, 'GET', '/dm/users', { headers: bearer(token) })).status, 200, 'the fresh token works');
    expectEqual((await call(base, 'POST', '/chat/logout', { headers: bearer(token) })).status, 200, 'logged out through chat');
    expectEqual((await call(base, 'GET', '/dm/users', { headers: bearer(token) })).status, 401, 'dm refuses it');
    expectEqual((await upgrade(server.port, `/dm/chats/bob?token=${token}`)).status, 401, 'the dm socket refuses it');
    expectEqual((await call(base, 'GET', '/presence/users/me', { headers: bearer(token) })).status, 403, 'the presence identity route refuses it');
    expectEqual((await call(base, 'GET', '/chat/me', { headers: bearer(token) })).json, null, 'chat has no session for it');
    expectEqual((await openSse(`${base}/chat/stream?token=${token}`)).status, 401, 'the chat stream refuses it');
    expectEqual((await upgrade(server.port, `/chat/ws?token=${token}`)).status, 401, 'the chat socket refuses it');
    expectEqual((await call(base, 'GET', '/ui/api/me', { headers: bearer(token) })).status, 401, 'the console refuses it');
    const presence = await connectWs(`${wsBase}/presence/ws`);
    presence.send({ type: 'HELLO', accesstoken: token });
    expectEqual((await presence.next((f) => f.type === 'HELLO')).error, 'invalid token', 'presence HELLO refuses it');
    presence.close();
    expectEqual((await call(base, 'GET', '/dm/users', { headers: bearer(users.alice!.token) })).status, 200, "alice's other token still works");
  });

  test('no secret or token is ever written to the log', async (t) => {
    // A few more paths that handle secrets and could log them: failed logins and bad tokens on every hub.
    await call(base, 'POST', '/dm/login', { body: { username: 'alice', password: secret('pw-typo-Alice-8fG2') } });
    await call(base, 'POST', '/chat/login', { body: { username: 'alice', password: secret('pw-typo-Alice-3kP9') } });
    await call(base, 'POST', '/api/auth/token', { body: { client_id: clientId, client_secret: secret('wrong-client-secret-7Yt4') } });
    await call(base, 'GET', `/sse?token=${users.alice!.token}`);
    await upgrade(server.port, `/dm/chats/bob?token=${client}`);
    await call(base, 'POST', '/chat/logout', { headers: bearer(users.carol!.token) });
    await sleep(200);
    const leaks: string[] = [];
    for (const line of server.logs) {
      const text = JSON.stringify(line);
      for (const value of secrets) {
        if (value.length >= 8 && text.includes(value)) leaks.push(`${String(line.event)} holds ${value.slice(0, 12)}…`);
      }
    }
    const events = new Map<string, number>();
    for (const line of server.logs) events.set(String(line.event), (events.get(String(line.event)) ?? 0) + 1);
    t.diagnostic(`${server.logs.length} log lines (${[...events].map(([event, n]) => `${event} ${n}`).join(', ')}) scanned for ${secrets.size} secrets; ${checks} checks in the file before this one`);
    assert.deepEqual(leaks, []);
  });
});
