// A store filled through a real server's APIs, and everything a client would see of it, for the tests
// that move a whole store (migrate, export/import): after a move, the same people log in with the same
// passwords, an old token still works, history pages are the same, and unacknowledged notifications
// come back with the same ids.
import assert from 'node:assert/strict';
import type { RunningFlashhub } from './flashhub.ts';
import { openSse } from './sse.ts';
import { connectWs } from './ws.ts';

export const clientSecret = 'backend-secret-0123456789';
export const password = 'wonderland';

export interface Answer {
  status: number;
  json: any;
  cookie?: string;
}

export async function call(base: string, method: string, route: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  const response = await fetch(`${base}${route}`, {
    method,
    headers: { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, json: text ? JSON.parse(text) : undefined, cookie: response.headers.get('set-cookie')?.split(';')[0] };
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

export async function dmLogin(base: string, username: string): Promise<string> {
  const { status, json } = await call(base, 'POST', '/dm/login', { username, password });
  assert.equal(status, 200, JSON.stringify(json));
  return json.content.token;
}

export async function chatSession(base: string, username: string): Promise<string> {
  const { status, json, cookie } = await call(base, 'POST', '/chat/login', { username, password });
  assert.equal(status, 200, JSON.stringify(json));
  return cookie!;
}

export async function clientToken(base: string): Promise<string> {
  const { status, json } = await call(base, 'POST', '/api/auth/token', { client_id: 'backend', client_secret: clientSecret });
  assert.equal(status, 200, JSON.stringify(json));
  return json.access_token;
}

/** The notification ids a user's EventSource replays: what is still unacknowledged. */
export async function pendingIds(base: string, username: string, expected: number): Promise<string[]> {
  const token = (await call(base, 'GET', `/api/user/${username}/token`, undefined, bearer(await clientToken(base)))).json.access_token;
  const stream = await openSse(`${base}/sse?token=${token}`);
  try {
    const ids: string[] = [];
    while (ids.length < expected) {
      const event = await stream.next();
      if (event.event !== 'ping') ids.push(event.id!);
    }
    return ids;
  } finally {
    stream.close();
  }
}

/**
 * On a server started with --demo over a store with the API client `backend`: alice and bob with
 * passwords, 40 messages in General, a dm from alice to bob, 3 notifications to each, one of alice's
 * acknowledged. Resolves with alice's dm token.
 */
export async function fillThroughApis(server: RunningFlashhub): Promise<string> {
  const base = server.url;
  for (const username of ['alice', 'bob']) {
    assert.equal((await call(base, 'POST', '/dm/register', { name: username, username, password })).status, 200);
  }
  const aliceToken = await dmLogin(base, 'alice');
  const cookie = await chatSession(base, 'alice');
  for (let i = 0; i < 40; i++) {
    assert.equal((await call(base, 'POST', '/chat/room/0/messages', { message: `hello ${i}` }, { cookie })).status, 201);
  }
  const socket = await connectWs(`ws://127.0.0.1:${server.port}/dm/chats/bob?token=${aliceToken}`);
  socket.send('hello bob');
  for (let tries = 0; !JSON.stringify((await call(base, 'GET', '/dm/chats/bob/messages', undefined, bearer(aliceToken))).json).includes('hello bob'); tries++) {
    assert.ok(tries < 100, 'the dm message is stored');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  socket.close();
  const client = await clientToken(base);
  for (let i = 0; i < 3; i++) {
    assert.equal((await call(base, 'POST', '/api/message/notify', { users: ['alice', 'bob'], payload: { n: i } }, bearer(client))).status, 202);
  }
  const [first] = await pendingIds(base, 'alice', 3);
  const acked = await call(base, 'POST', '/api/message/acknowledge', { user_id: 'alice', message_ids: [first] }, bearer(client));
  assert.deepEqual(acked.json, { acknowledged: 1 });
  return aliceToken;
}

/** Everything the tests compare before and after a move, read through the hubs' APIs. */
export async function observe(base: string, aliceToken: string) {
  const cookie = await chatSession(base, 'alice');
  const chat = async (query: string) => (await call(base, 'GET', `/chat/room/0/messages?${query}`, undefined, { cookie })).json;
  return {
    general: [await chat('offset=0&size=15'), await chat('offset=15&size=15'), await chat('before=20&size=5')],
    dm: (await call(base, 'GET', '/dm/chats/bob/messages?limit=500', undefined, bearer(aliceToken))).json,
    users: (await call(base, 'GET', '/dm/users', undefined, bearer(aliceToken))).json,
    pending: { alice: await pendingIds(base, 'alice', 2), bob: await pendingIds(base, 'bob', 3) },
  };
}
