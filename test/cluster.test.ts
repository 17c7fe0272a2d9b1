// Scale-out over Redis (issue 10) with real processes only: a real redis-server and three real
// `flashhub serve` nodes on it, each with its own data directory. Every hub is driven across nodes
// (a write on one node, its effect on another); then a node stalls (SIGSTOP), is killed (-9) and
// stopped (SIGTERM); then Redis itself is killed and restarted under live connections. Timings
// measured on the way (time to offline, to ready again) are printed as test diagnostics.
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test, type TestContext } from 'node:test';
import {
  call,
  postFrom,
  Received,
  sleep,
  startCluster,
  waitFor,
  within,
  type ClusterNode,
  type TestCluster,
} from './support/cluster.ts';
import { runCli, tempDir } from './support/flashhub.ts';
import { openSse, type SseStream } from './support/sse.ts';
import { connectWs, upgrade, type WsClient } from './support/ws.ts';

const clientSecret = 'backend-secret-0123456789';
const password = 'pass-word-1';
const unavailable = 'storage unavailable, try again shortly';
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

interface User {
  name: string;
  id: number;
  /** A user token issued by the node the account was registered on. */
  token: string;
}

interface Event {
  id?: string;
  type: string;
  data: any;
}

/** Opens what a test uses and closes it after the test (and waits for the closes to be seen). */
class Resources {
  readonly #sockets: WsClient[] = [];
  readonly #streams: SseStream[] = [];

  async ws(url: string, headers: Record<string, string> = {}): Promise<WsClient> {
    const socket = await within(connectWs(url, { headers }), 5000, `WebSocket ${url}`);
    this.#sockets.push(socket);
    return socket;
  }

  /** A WebSocket and every JSON frame it receives from now on. */
  async wsEvents(url: string, headers: Record<string, string> = {}): Promise<{ socket: WsClient; received: Received<any> }> {
    const socket = await this.ws(url, headers);
    const received = new Received<any>();
    socket.ws.on('message', (data) => {
      try {
        received.push(JSON.parse(data.toString()));
      } catch {
        received.push(data.toString());
      }
    });
    return { socket, received };
  }

  async sse(url: string, headers: Record<string, string> = {}): Promise<SseStream> {
    const stream = await within(openSse(url, headers), 5000, `EventSource ${url}`);
    this.#streams.push(stream);
    return stream;
  }

  /** An EventSource and every event on it, its data parsed, collected in the background. */
  async sseEvents(url: string, headers: Record<string, string> = {}): Promise<{ stream: SseStream; received: Received<Event & { raw: string }> }> {
    const stream = await this.sse(url, headers);
    assert.equal(stream.status, 200, `EventSource ${url}`);
    const received = new Received<Event & { raw: string }>();
    void (async () => {
      for (;;) {
        let event;
        try {
          event = await stream.next(3_600_000);
        } catch {
          return;
        }
        const json = JSON.parse(event.data);
        received.push({ id: event.id, type: json.type, data: json.data ?? json, raw: event.data });
      }
    })();
    return { stream, received };
  }

  async closeAll(): Promise<void> {
    const sockets = this.#sockets.splice(0);
    const streams = this.#streams.splice(0);
    for (const socket of sockets) socket.close();
    for (const stream of streams) stream.close();
    await within(Promise.all([...sockets.map((s) => s.closed), ...streams.map((s) => s.ended)]), 5000, 'closing the test connections').catch(() => {
      for (const socket of sockets) socket.ws.terminate();
    });
  }
}

// ---- each hub's requests

/** A dm account (a user of the shared directory) registered on `node`, with that node's token. */
async function register(node: ClusterNode, name: string): Promise<User> {
  const registered = await call(node.url, 'POST', '/dm/register', { name: `${name} Person`, username: name, password });
  assert.equal(registered.status, 200, JSON.stringify(registered.json));
  const token = registered.json.content.token as string;
  const me = await call(node.url, 'GET', '/presence/users/me', undefined, bearer(token));
  assert.equal(me.status, 200, JSON.stringify(me.json));
  return { name, id: me.json.data.id, token };
}

async function clientToken(node: ClusterNode): Promise<string> {
  const answer = await call(node.url, 'POST', '/notify/api/auth/token', { client_id: 'backend', client_secret: clientSecret });
  assert.equal(answer.status, 200, JSON.stringify(answer.json));
  return answer.json.access_token;
}

async function streamToken(node: ClusterNode, client: string, username: string): Promise<string> {
  const answer = await call(node.url, 'GET', `/notify/api/user/${username}/token`, undefined, bearer(client));
  assert.equal(answer.status, 200, JSON.stringify(answer.json));
  return answer.json.access_token;
}

function notify(node: ClusterNode, client: string, users: string[], payload: unknown) {
  return call(node.url, 'POST', '/notify/api/message/notify', { users, payload }, bearer(client));
}

const isNotification = (e: Event & { raw: string }) => e.id !== undefined && JSON.parse(e.raw).payload !== 'ping';
const payloadOf = (e: { raw: string }) => JSON.parse(e.raw).payload;

/** A presence socket on `node` that said HELLO as `user`. */
async function hello(res: Resources, node: ClusterNode, user: User) {
  const { socket, received } = await res.wsEvents(`${node.wsUrl}/presence/ws`);
  socket.send({ type: 'HELLO', userid: user.id, accesstoken: user.token, reqId: 'hello' });
  const reply = await received.find((f) => f.type === 'HELLO', 5000, `HELLO of ${user.name} on ${node.name}`);
  assert.equal(reply.ok, true, JSON.stringify(reply));
  return { socket, received, node };
}

let requests = 0;
/** Sends a presence request and waits for its reply. */
async function ask(p: { socket: WsClient; received: Received<any> }, type: string, args: Record<string, unknown> = {}) {
  const reqId = `r${++requests}`;
  p.socket.send({ type, reqId, ...args });
  return p.received.find((f) => f.reqId === reqId, 5000, `reply to ${type}`);
}

const isOnlineList = (f: any) => f.type === 'online';

/** Logs in to chat on `node`; returns the session cookie. */
async function chatLogin(node: ClusterNode, user: User): Promise<string> {
  const response = await fetch(`${node.url}/chat/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: user.name, password }),
    signal: AbortSignal.timeout(5000),
  });
  assert.equal(response.status, 200, await response.clone().text());
  assert.deepEqual(await response.json(), { id: String(user.id), username: user.name });
  const cookie = (response.headers.get('set-cookie') ?? '').split(';')[0]!;
  assert.match(cookie, /^session=ey/);
  return cookie;
}

const chatMessage = (text: string) => (e: Event) => e.type === 'message' && e.data.message === text;
const seqOf = (id: string) => Number(id.slice(id.lastIndexOf('-') + 1));
const isDm = (f: any) => typeof f === 'object' && typeof f.body === 'string';

/** Waits, if need be, until the current one-minute window of the login limits has `ms` left. */
async function windowWithRoom(ms: number): Promise<void> {
  const left = 60_000 - (Date.now() % 60_000);
  if (left < ms) await sleep(left + 100);
}

function diagnostic(t: TestContext, text: string): void {
  t.diagnostic(text);
}

// ---------------------------------------------------------------------------------------------------

describe('three nodes over one Redis: every hub across nodes', { timeout: 120_000 }, () => {
  let cluster: TestCluster;
  let A: ClusterNode;
  let B: ClusterNode;
  let C: ClusterNode;
  let nodes: ClusterNode[];
  const res = new Resources();

  before(async () => {
    cluster = await startCluster({ env: { FLASHHUB_LOGIN_ATTEMPTS_PER_MINUTE: '3', FLASHHUB_CONNECTIONS_PER_USER: '2' } });
    nodes = cluster.nodes;
    [A, B, C] = nodes as [ClusterNode, ClusterNode, ClusterNode];
    // Through node A's admin socket; the client is in the shared store for every node.
    const added = await cluster.cli(A, ['client', 'add', 'backend', '--secret', clientSecret]);
    assert.equal(added.code, 0, added.stderr);
  });
  // The nodes first: they end what is still open themselves (an EventSource aborted by the client
  // would keep a graceful stop waiting for its keep-alive socket for 4 s).
  after(async () => {
    await cluster?.stop();
    await res.closeAll();
  });
  afterEach(() => res.closeAll());

  test('the nodes are one cluster: each ready, each its own node id, one signing key', async () => {
    for (const node of nodes) assert.deepEqual((await call(node.url, 'GET', '/readyz')).json, { status: 'ready' });
    const ids = nodes.map((node) => node.server.logs.find((line) => line.event === 'server.started')!.node);
    assert.equal(new Set(ids).size, 3, `node ids ${ids}`);
    for (const node of nodes) assert.equal(node.server.logs.find((line) => line.event === 'server.started')!.store, 'redis');
    // A client token from A is good on B and C.
    const client = await clientToken(A);
    for (const node of [B, C]) assert.equal((await call(node.url, 'GET', '/notify/api/user', undefined, bearer(client))).status, 200);
  });

  test('notify: sent on A, received on B, resumed with Last-Event-ID on C, acknowledged on C and A', async () => {
    const client = await clientToken(A);
    const onB = await res.sseEvents(`${B.url}/notify/sse?token=${await streamToken(C, client, 'nora')}`);
    assert.deepEqual(JSON.parse((await onB.received.find(() => true)).raw), { id: '', payload: 'ping', read: false });
    const ids: string[] = [];
    for (const payload of ['n1', 'n2', 'n3']) {
      assert.deepEqual(await notify(A, client, ['nora'], payload).then((r) => [r.status, r.json]), [202, { recipients: 1 }]);
      const event = await onB.received.find((e) => isNotification(e) && payloadOf(e) === payload, 3000, `${payload} on B`);
      assert.deepEqual(JSON.parse(event.raw), { id: event.id, payload, read: false });
      ids.push(event.id!);
    }
    assert.deepEqual(ids.map(Number), [...ids.map(Number)].sort((a, b) => a - b), 'ids rise');
    assert.equal(onB.received.count(isNotification), 3, 'each once');
    onB.stream.close();

    // Sent while the browser is away; it comes back on another node after n2.
    assert.equal((await notify(C, client, ['nora'], { n: 4 })).status, 202);
    const resumed = await res.sseEvents(`${C.url}/sse?token=${await streamToken(B, client, 'nora')}`, { 'last-event-id': ids[1]! });
    await resumed.received.find((e) => JSON.stringify(payloadOf(e)) === '{"n":4}', 3000, 'n4 on the resumed stream');
    await sleep(300);
    assert.deepEqual(resumed.received.all.map(payloadOf), ['n3', { n: 4 }], 'only what came after n2, no ping');
    resumed.stream.close();

    // Acknowledged on C (the backend) and on A (the user's own stream token): never sent again.
    const byClient = await call(C.url, 'POST', '/notify/api/message/acknowledge', { user_id: 'nora', message_ids: [ids[0], ids[1]] }, bearer(client));
    assert.deepEqual([byClient.status, byClient.json], [200, { acknowledged: 2 }]);
    const own = await streamToken(A, client, 'nora');
    const byUser = await call(A.url, 'POST', '/api/message/acknowledge', { message_ids: [ids[2]] }, bearer(own));
    assert.deepEqual([byUser.status, byUser.json], [200, { acknowledged: 1 }]);
    const fresh = await res.sseEvents(`${A.url}/sse?token=${own}`);
    await fresh.received.find((e) => JSON.stringify(payloadOf(e)) === '{"n":4}', 3000, 'n4 on a fresh stream on A');
    await sleep(300);
    assert.deepEqual(fresh.received.all.map(payloadOf), [{ n: 4 }], 'the acknowledged ones are gone on every node');
  });

  test('presence: one user on two nodes is one online user; messages and online status cross nodes', async (t) => {
    const [ann, ben, cat, dee, eve] = await Promise.all([register(A, 'p-ann'), register(B, 'p-ben'), register(C, 'p-cat'), register(A, 'p-dee'), register(B, 'p-eve')]);
    const client = await clientToken(B);
    const onlineOn = async (node: ClusterNode) => (await call(node.url, 'GET', '/presence/online', undefined, bearer(client))).json.users as number[];
    const times = (list: number[], id: number) => list.filter((x) => x === id).length;

    // dee watches from C.
    const deeC = await hello(res, C, dee);
    assert.equal((await ask(deeC, 'subscribeOnlineStatus')).ok, true);
    const about = (user: User) => (f: any) => f.type === 'onlineStatus' && f.userid === user.id;

    // ann comes online on A, then on B too: one user, announced once, listed once everywhere.
    const annA = await hello(res, A, ann);
    assert.deepEqual(await deeC.received.find(about(ann), 3000, 'ann online, seen on C'), { type: 'onlineStatus', userid: ann.id, online: true });
    await deeC.received.find((f) => isOnlineList(f) && f.users.includes(ann.id), 3000, "C's online list with ann");
    const annB = await hello(res, B, ann);
    await sleep(300);
    assert.equal(deeC.received.count(about(ann)), 1, 'a second device on another node is no change');
    for (const node of nodes) assert.equal(times(await onlineOn(node), ann.id), 1, `ann once in ${node.name}'s /presence/online`);
    const lists = await waitFor('getAllOnline agrees on A, B and C', async () => {
      const all = await Promise.all([annA, annB, deeC].map(async (p) => (await ask(p, 'getAllOnline')).users as number[]));
      return all.every((list) => JSON.stringify(list) === JSON.stringify(all[0])) && all;
    });
    for (const list of lists) {
      assert.equal(times(list, ann.id), 1);
      assert.equal(times(list, dee.id), 1);
      assert.deepEqual(list, [...list].sort((a, b) => a - b));
    }

    // Closing one of ann's two sockets (on A) leaves her online everywhere.
    annA.socket.close();
    await annA.socket.closed;
    await sleep(400);
    assert.equal(deeC.received.count(about(ann)), 1, 'no offline while B still holds a socket');
    for (const node of nodes) assert.ok((await onlineOn(node)).includes(ann.id), `ann still online on ${node.name}`);

    // sendMessageToUser from A reaches cat's sockets on B and C.
    const catB = await hello(res, B, cat);
    const catC = await hello(res, C, cat);
    const benA = await hello(res, A, ben);
    await waitFor('A knows cat is online', async () => (await onlineOn(A)).includes(cat.id), 3000);
    const reply = await ask(benA, 'sendMessageToUser', { id: cat.id, message: { text: 'across nodes', n: 1 } });
    assert.equal(reply.ok, true, JSON.stringify(reply));
    diagnostic(t, `sendMessageToUser to sockets on other nodes answered delivered=${reply.delivered}`);
    for (const socket of [catB, catC]) {
      assert.deepEqual(await socket.received.find((f) => f.type === 'message', 3000, `the message on ${socket.node.name}`), { type: 'message', from: ben.id, message: { text: 'across nodes', n: 1 } });
    }
    await sleep(300);
    for (const socket of [catB, catC]) assert.equal(socket.received.count((f) => f.type === 'message'), 1, `once on ${socket.node.name}`);
    assert.equal(benA.received.count((f) => f.type === 'message'), 0, 'not back to the sender');

    // subscribeOnlineStatus on C sees eve come online on A and go offline.
    const eveA = await hello(res, A, eve);
    const startedAt = Date.now();
    assert.deepEqual(await deeC.received.find(about(eve), 3000, 'eve online, seen on C'), { type: 'onlineStatus', userid: eve.id, online: true });
    eveA.socket.close();
    const closedAt = Date.now();
    const offline = (f: any) => about(eve)(f) && f.online === false;
    assert.deepEqual(await deeC.received.find(offline, 3000, 'eve offline, seen on C'), { type: 'onlineStatus', userid: eve.id, online: false });
    diagnostic(t, `onlineStatus across nodes: online after ${closedAt - startedAt} ms at most, offline after ${Date.now() - closedAt} ms`);
    await waitFor('no node lists eve', async () => (await Promise.all(nodes.map(onlineOn))).every((list) => !list.includes(eve.id)), 3000);

    // And ann's last socket closing is her offline change, seen on C.
    annB.socket.close();
    await deeC.received.find((f) => about(ann)(f) && f.online === false, 3000, 'ann offline, seen on C');
    assert.equal(deeC.received.count(about(ann)), 2);
  });

  test('chat: posted on A, heard on B (EventSource) and C (WebSocket); /users/online agrees; Last-Event-ID resumes on B', async () => {
    const [amy, bob, cyd] = await Promise.all([register(A, 'c-amy'), register(B, 'c-bob'), register(C, 'c-cyd')]);
    const amyCookie = await chatLogin(A, amy);
    const bobCookie = await chatLogin(B, bob);
    const cydCookie = await chatLogin(C, cyd);
    const bobB = await res.sseEvents(`${B.url}/chat/stream`, { cookie: bobCookie });
    const cydC = await res.wsEvents(`${C.wsUrl}/chat/ws`, { cookie: cydCookie });

    // cyd came online on C: the event is published once for the cluster, and heard on B.
    const connected = (e: Event) => e.type === 'user.connected' && e.data.id === String(cyd.id);
    assert.deepEqual((await bobB.received.find(connected, 3000, 'user.connected of cyd on B')).data, { id: String(cyd.id), username: 'c-cyd', online: true });

    const posted = await call(A.url, 'POST', '/chat/room/0/messages', { message: 'hello from <A>' }, { cookie: amyCookie });
    assert.equal(posted.status, 201, JSON.stringify(posted.json));
    assert.equal(posted.json.message, 'hello from &lt;A&gt;');
    const heardOnB = await bobB.received.find(chatMessage('hello from &lt;A&gt;'), 3000, 'the message on B');
    const heardOnC = await cydC.received.find(chatMessage('hello from &lt;A&gt;'), 3000, 'the message on C');
    assert.deepEqual(heardOnB.data, posted.json);
    assert.deepEqual(heardOnC.data, posted.json);
    assert.equal(heardOnB.id, heardOnC.id, 'one numbering on every node');
    // And back: cyd posts over the socket on C, bob hears it on B.
    cydC.socket.send({ type: 'message', data: { roomId: '0', message: 'from the socket on C' } });
    const fromC = await bobB.received.find(chatMessage('from the socket on C'), 3000, "cyd's socket message on B");
    assert.equal(fromC.data.from, cyd.id);
    assert.ok(seqOf(fromC.id!) > seqOf(heardOnB.id!));
    assert.equal(bobB.received.count(connected), 1, 'user.connected once, not once per node');

    // Online users: the same map on every node, at /chat/users/online and the seed path.
    const online = await waitFor('the same /chat/users/online on every node', async () => {
      const maps = await Promise.all(nodes.map(async (node, i) => (await call(node.url, 'GET', i === 1 ? '/users/online' : '/chat/users/online')).json));
      const same = maps.every((map) => JSON.stringify(map) === JSON.stringify(maps[0]));
      return same && String(bob.id) in maps[0] && String(cyd.id) in maps[0] && maps[0];
    }, 3000);
    assert.deepEqual(online[String(bob.id)], { id: String(bob.id), username: 'c-bob', online: true });
    assert.deepEqual(online[String(cyd.id)], { id: String(cyd.id), username: 'c-cyd', online: true });
    assert.ok(!(String(amy.id) in online), 'amy has no connection anywhere');
    const byIds = await call(C.url, 'GET', `/chat/users?ids[]=${bob.id}&ids[]=${amy.id}`);
    assert.deepEqual(byIds.json, { [bob.id]: { id: String(bob.id), username: 'c-bob', online: true }, [amy.id]: { id: String(amy.id), username: 'c-amy', online: false } });

    // amy's stream on A drops; she resumes on B (up all along) with the last id she saw there.
    const amyA = await res.sseEvents(`${A.url}/chat/stream`, { cookie: amyCookie });
    assert.equal((await call(A.url, 'POST', '/chat/room/0/messages', { message: 'before the drop' }, { cookie: amyCookie })).status, 201);
    const seen = await amyA.received.find(chatMessage('before the drop'), 3000, 'before the drop, on A');
    amyA.stream.close();
    await amyA.stream.ended;
    assert.equal((await call(C.url, 'POST', '/chat/room/0/messages', { message: 'while away 1' }, { cookie: amyCookie })).status, 201);
    assert.equal((await call(B.url, 'POST', '/chat/room/0/messages', { message: 'while away 2' }, { cookie: amyCookie })).status, 201);
    await bobB.received.find(chatMessage('while away 2'), 3000, 'B has heard "while away 2"');
    const resumed = await res.sseEvents(`${B.url}/stream`, { cookie: amyCookie, 'last-event-id': seen.id! });
    await resumed.received.find(chatMessage('while away 2'), 3000, 'the resumed stream on B catches up');
    assert.equal(resumed.received.count((e) => e.type === 'stream.gap'), 0, `no gap: ${JSON.stringify(resumed.received.all)}`);
    const messages = resumed.received.all.filter((e) => e.type === 'message');
    assert.deepEqual(messages.map((e) => e.data.message), ['while away 1', 'while away 2'], 'exactly what was missed, in order');
    assert.ok(resumed.received.all.every((e) => seqOf(e.id!) > seqOf(seen.id!)), 'nothing from before the resume point');
    // The ids on B are the ones bob saw for the same events.
    const bobsCopy = await bobB.received.find(chatMessage('while away 1'));
    assert.equal(messages[0]!.id, bobsCopy.id);
  });

  test('dm: users on different nodes chat both ways; a token from A works on B and C; a CLI user logs in anywhere', async () => {
    const [xen, yul] = await Promise.all([register(A, 'd-xen'), register(B, 'd-yul')]);
    const xenA = await res.wsEvents(`${A.wsUrl}/chats/d-yul`, bearer(xen.token));
    const yulB = await res.wsEvents(`${B.wsUrl}/dm/chats/d-xen`, bearer(yul.token));
    xenA.socket.send('hi yul, from A');
    const got = await yulB.received.find(isDm, 3000, "xen's message on B");
    assert.deepEqual({ ...got, sent_at: 0 }, { from: 'd-xen', body: 'hi yul, from A', sent_at: 0, to: 'd-yul', id: 1 });
    yulB.socket.send('hi xen, from B');
    assert.deepEqual((await xenA.received.find(isDm, 3000, "yul's answer on A")).body, 'hi xen, from B');

    // xen's token was issued by A; B and C accept it (one signing key in the shared store).
    const listed = await call(B.url, 'GET', '/dm/users', undefined, bearer(xen.token));
    assert.equal(listed.status, 200);
    assert.ok(listed.json.content.some((u: any) => u.username === 'd-yul'));
    const xenC = await res.wsEvents(`${C.wsUrl}/chats/d-yul`, { authorization: `Bearer${xen.token}` });
    yulB.socket.send('to both of your devices');
    for (const socket of [xenA, xenC]) {
      const frames = () => socket.received.all.filter(isDm).map((f) => f.body);
      await socket.received.find((f) => isDm(f) && f.body === 'to both of your devices', 3000, 'on each of xen\'s nodes');
      assert.equal(frames().filter((b) => b === 'to both of your devices').length, 1);
    }
    await sleep(200);
    assert.equal(yulB.received.count((f) => isDm(f) && f.body === 'to both of your devices'), 0, 'never echoed to the sending socket');
    const history = await call(C.url, 'GET', '/dm/chats/d-yul/messages', undefined, bearer(xen.token));
    assert.deepEqual(history.json.content.map((m: any) => [m.id, m.from, m.body]), [[1, 'd-xen', 'hi yul, from A'], [2, 'd-yul', 'hi xen, from B'], [3, 'd-yul', 'to both of your devices']]);

    // A user added with the CLI through B's admin socket logs in on C and chats with xen on A.
    const added = await cluster.cli(B, ['user', 'add', 'd-cli', '--name', 'Cli Person', '--password-stdin'], password);
    assert.equal(added.code, 0, added.stderr);
    const login = await call(C.url, 'POST', '/dm/login', { username: 'd-cli', password });
    assert.equal(login.status, 200, JSON.stringify(login.json));
    const cliC = await res.wsEvents(`${C.wsUrl}/chats/d-xen?token=${login.json.content.token}`);
    cliC.socket.send('made by the CLI');
    assert.equal((await xenA.received.find((f) => isDm(f) && f.from === 'd-cli', 3000, 'the CLI user\'s message on A')).body, 'made by the CLI');
  });

  test('limits count across nodes: failed logins (3 a minute) and connections per user (2)', async () => {
    const limited = await register(A, 'lim-user');
    await register(B, 'lim-other');
    const attempt = (node: ClusterNode, from: string, username: string, pass: string) => postFrom(from, node.port, '/dm/login', { username, password: pass });
    await windowWithRoom(5000);
    // Per username: one failure on each node, each from its own address.
    for (const [i, node] of nodes.entries()) {
      const failed = await attempt(node, `127.0.0.${11 + i}`, limited.name, 'wrong-password');
      assert.deepEqual([failed.status, failed.json], [400, { code: '400', message: 'wrong credentials', content: null }], node.name);
    }
    for (const node of nodes) {
      const refused = await attempt(node, '127.0.0.14', limited.name, password);
      assert.deepEqual([refused.status, refused.json], [429, { code: '429', message: 'too many login attempts, try again later', content: null }], `even the right password, on ${node.name}`);
      assert.ok(Number(refused.retryAfter) >= 1 && Number(refused.retryAfter) <= 60, `Retry-After ${refused.retryAfter}`);
    }
    // Per address: three unknown users from one address, one per node.
    for (const [i, node] of nodes.entries()) assert.equal((await attempt(node, '127.0.0.21', `nobody-${i}`, 'whatever')).status, 400);
    assert.equal((await attempt(B, '127.0.0.21', 'lim-other', password)).status, 429, 'that address is used up on every node');
    assert.equal((await attempt(B, '127.0.0.22', 'lim-other', password)).status, 200, 'another address is not');

    // Connections: one on A, one on B, and the third (on C) is refused, whatever the hub.
    const con = await register(A, 'con-user');
    await register(B, 'con-peer');
    const onA = await res.ws(`${A.wsUrl}/dm/chats/con-peer`, bearer(con.token));
    await sleep(150);
    await res.ws(`${B.wsUrl}/presence/ws`).then(async (socket) => {
      socket.send({ type: 'HELLO', userid: con.id, accesstoken: con.token });
      assert.equal((await socket.next((f) => f.type === 'HELLO', 5000)).ok, true);
    });
    await sleep(150);
    assert.deepEqual(await upgrade(C.port, '/dm/chats/con-peer', bearer(con.token)), { status: 429, body: { code: '429', message: 'too many connections for this user', content: null } });
    const presenceC = await res.ws(`${C.wsUrl}/presence/ws`);
    presenceC.send({ type: 'HELLO', userid: con.id, accesstoken: con.token });
    assert.deepEqual(await presenceC.next((f) => f.type === 'HELLO', 5000), { type: 'HELLO', ok: false, error: 'at most 2 connections per user' });
    const client = await clientToken(C);
    const sse = await fetch(`${C.url}/sse?token=${await streamToken(C, client, 'con-user')}`, { signal: AbortSignal.timeout(5000) });
    assert.deepEqual([sse.status, await sse.json()], [429, { error: 'Too many connections for this user' }]);
    const chat = await fetch(`${C.url}/chat/stream?token=${con.token}`, { signal: AbortSignal.timeout(5000) });
    assert.deepEqual([chat.status, await chat.json()], [429, { message: 'Too many connections for this user' }]);
    // One closes on A: C has room again once that reached Redis.
    onA.close();
    await onA.closed;
    await waitFor('C accepts once A released a connection', async () => (await upgrade(C.port, '/dm/chats/con-peer', bearer(con.token))).status === 101, 3000);
  });

  test('`flashhub user remove` on A closes the user\'s sessions on B and C; chat logout on A voids the token on B and C', async (t) => {
    const [gone] = await Promise.all([register(A, 'rm-user'), register(A, 'rm-peer')]);
    const dmB = await res.ws(`${B.wsUrl}/chats/rm-peer`, bearer(gone.token));
    const presenceC = await hello(res, C, gone);
    assert.equal((await call(B.url, 'GET', '/dm/users', undefined, bearer(gone.token))).status, 200);
    const removed = await cluster.cli(A, ['user', 'remove', 'rm-user']);
    assert.equal(removed.code, 0, removed.stderr);
    assert.deepEqual(await within(dmB.closed, 3000, 'the dm socket on B closing'), { code: 1008, reason: 'user removed' });
    assert.deepEqual(await within(presenceC.socket.closed, 3000, 'the presence socket on C closing'), { code: 1008, reason: 'user removed' });
    const refused = await call(B.url, 'GET', '/dm/users', undefined, bearer(gone.token));
    assert.deepEqual([refused.status, refused.json.message], [401, 'user not found']);

    // The same from a machine with no node: the CLI changes Redis itself and tells the nodes.
    const [alone] = await Promise.all([register(B, 'rm-alone'), register(B, 'rm-alone-peer')]);
    const aloneOnC = await res.ws(`${C.wsUrl}/chats/rm-alone-peer`, bearer(alone.token));
    const elsewhere = await tempDir('flashhub-cli-');
    t.after(() => elsewhere.remove());
    const direct = await runCli(['user', 'remove', 'rm-alone', '--data', elsewhere.path], { env: cluster.env });
    assert.equal(direct.code, 0, direct.stderr);
    assert.deepEqual(await within(aloneOnC.closed, 3000, 'the dm socket on C closing'), { code: 1008, reason: 'user removed' });

    const leaver = await register(C, 'lo-user');
    const cookie = await chatLogin(A, leaver);
    for (const node of [B, C]) assert.deepEqual((await call(node.url, 'GET', '/chat/me', undefined, { cookie })).json, { id: String(leaver.id), username: 'lo-user' });
    const out = await call(A.url, 'POST', '/chat/logout', undefined, { cookie });
    assert.deepEqual([out.status, out.json], [200, { message: `User ${leaver.id} has been logged out` }]);
    const loggedOutAt = Date.now();
    await waitFor('B no longer takes the logged-out token', async () => (await call(B.url, 'GET', '/chat/me', undefined, { cookie })).json === null, 2000, 5);
    diagnostic(t, `logout on A reached B within ${Date.now() - loggedOutAt} ms`);
    assert.equal((await call(C.url, 'GET', '/me', undefined, { cookie })).json, null);
    assert.equal((await fetch(`${C.url}/chat/stream`, { headers: { cookie }, signal: AbortSignal.timeout(5000) })).status, 401);
    const token = cookie.slice('session='.length);
    assert.deepEqual((await call(C.url, 'GET', '/dm/users', undefined, bearer(token))).json.message, 'unauthorized user', 'revoked on every hub');
    assert.equal((await upgrade(B.port, '/chats/rm-peer', bearer(token))).status, 401);
  });
});

// ---------------------------------------------------------------------------------------------------

describe('a node that dies or stops', { timeout: 60_000 }, () => {
  let cluster: TestCluster;
  let A: ClusterNode;
  let B: ClusterNode;
  let C: ClusterNode;
  const res = new Resources();

  before(async () => {
    cluster = await startCluster();
    [A, B, C] = cluster.nodes as [ClusterNode, ClusterNode, ClusterNode];
  });
  // The nodes first: they end what is still open themselves (an EventSource aborted by the client
  // would keep a graceful stop waiting for its keep-alive socket for 4 s).
  after(async () => {
    await cluster?.stop();
    await res.closeAll();
  });

  test('a node that stalls past node_timeout (SIGSTOP): its users go offline, and come back online when it resumes', async (t) => {
    const [sid, wat, obs] = await Promise.all([register(B, 's-sid'), register(A, 's-wat'), register(C, 's-obs')]);
    const watA = await hello(res, A, wat);
    assert.equal((await ask(watA, 'subscribeOnlineStatus')).ok, true);
    const watChat = await res.sseEvents(`${A.url}/chat/stream?token=${wat.token}`);
    const obsChat = await res.sseEvents(`${C.url}/stream?token=${obs.token}`);
    const sidB = await hello(res, B, sid);
    const status = (online: boolean) => (f: any) => f.type === 'onlineStatus' && f.userid === sid.id && f.online === online;
    const chat = (type: string) => (e: Event) => e.type === type && e.data.id === String(sid.id);
    await watA.received.find(status(true), 3000, 'sid online, seen on A');
    for (const stream of [watChat, obsChat]) await stream.received.find(chat('user.connected'), 3000, 'user.connected of sid');

    const pid = B.server.child.pid!;
    process.kill(pid, 'SIGSTOP');
    const stoppedAt = Date.now();
    try {
      await watA.received.find(status(false), 8000, 'sid offline, seen on A');
      diagnostic(t, `a stalled node's user offline on A after ${Date.now() - stoppedAt} ms`);
      for (const stream of [watChat, obsChat]) await stream.received.find(chat('user.disconnected'), 2000, 'user.disconnected of sid');
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    const resumedAt = Date.now();
    await watA.received.find((f) => status(true)(f) && watA.received.all.indexOf(f) > watA.received.all.findIndex(status(false)), 5000, 'sid online again, seen on A');
    diagnostic(t, `online again on A ${Date.now() - resumedAt} ms after the node resumed (stalled ${resumedAt - stoppedAt} ms)`);
    // Chat clients hear the return as they heard the leave: once, from one node.
    for (const stream of [watChat, obsChat]) {
      await stream.received.find(chat('user.connected'), 3000, 'user.connected of sid after the stall', stream.received.all.findIndex(chat('user.disconnected')));
    }
    await sleep(300);
    for (const stream of [watChat, obsChat]) {
      assert.deepEqual(stream.received.all.filter((e) => chat('user.connected')(e) || chat('user.disconnected')(e)).map((e) => e.type), ['user.connected', 'user.disconnected', 'user.connected']);
    }
    for (const node of [A, C]) assert.ok(String(sid.id) in (await call(node.url, 'GET', '/chat/users/online')).json, `sid online on ${node.name}`);
    assert.equal((await ask(sidB, 'ping')).type, 'pong', "sid's socket on B lived through it");
  });

  test('kill -9: its users are offline on the other nodes within node_timeout + 1 s', async (t) => {
    const [kim, wat, obs, mia] = await Promise.all([register(C, 'k-kim'), register(A, 'k-wat'), register(B, 'k-obs'), register(A, 'k-mia')]);
    const watA = await hello(res, A, wat);
    assert.equal((await ask(watA, 'subscribeOnlineStatus')).ok, true);
    const obsCookie = await chatLogin(B, obs);
    const obsB = await res.sseEvents(`${B.url}/chat/stream`, { cookie: obsCookie });
    // kim's only connections, all on C: a presence socket and a chat stream.
    await hello(res, C, kim);
    const kimCookie = await chatLogin(C, kim);
    await res.sseEvents(`${C.url}/chat/stream`, { cookie: kimCookie });
    // mia has a socket on C and one on B: she must outlive C.
    await hello(res, C, mia);
    await hello(res, B, mia);
    await watA.received.find((f) => f.type === 'onlineStatus' && f.userid === kim.id && f.online, 3000, 'kim online, seen on A');
    await obsB.received.find((e) => e.type === 'user.connected' && e.data.id === String(kim.id), 3000, 'kim connected, seen on B');
    for (const node of [A, B]) assert.ok(String(kim.id) in (await call(node.url, 'GET', '/chat/users/online')).json);

    const listsBefore = watA.received.all.length;
    const killedAt = Date.now();
    await C.server.stop('SIGKILL');
    const offlineList = await watA.received.find((f) => isOnlineList(f) && !f.users.includes(kim.id), 8000, "A's online list without kim", listsBefore);
    const elapsed = Date.now() - killedAt;
    diagnostic(t, `kill -9 of the node: its user offline on A after ${elapsed} ms (node_timeout 2 s)`);
    assert.ok(elapsed < 6000, `offline after ${elapsed} ms`);
    assert.ok(offlineList.users.includes(wat.id));
    await watA.received.find((f) => f.type === 'onlineStatus' && f.userid === kim.id && !f.online, 1000, 'onlineStatus offline on A');
    await waitFor('A and B show kim offline at /chat/users/online', async () => {
      const maps = await Promise.all([A, B].map(async (node) => (await call(node.url, 'GET', '/chat/users/online')).json));
      return maps.every((map) => !(String(kim.id) in map));
    }, 1000);
    assert.equal((await call(B.url, 'GET', `/chat/users?ids[]=${kim.id}`)).json[kim.id].online, false);
    const disconnected = (e: Event) => e.type === 'user.disconnected' && e.data.id === String(kim.id);
    await obsB.received.find(disconnected, 2000, 'user.disconnected of kim on B');
    await sleep(500);
    assert.equal(obsB.received.count(disconnected), 1, 'user.disconnected published once, by the node that found it dead');
    assert.equal(watA.received.count((f) => f.type === 'onlineStatus' && f.userid === kim.id && !f.online), 1);
    assert.ok(offlineList.users.includes(mia.id), 'mia is still online on B');
    assert.equal(watA.received.count((f) => f.type === 'onlineStatus' && f.userid === mia.id && !f.online), 0);
    for (const node of [A, B]) assert.ok(String(mia.id) in (await call(node.url, 'GET', '/chat/users/online')).json, `mia online on ${node.name}`);
  });

  test('SIGTERM: its users are offline on the others at once, long before node_timeout', async (t) => {
    const [lee, wat] = await Promise.all([register(B, 't-lee'), register(A, 't-wat')]);
    const watA = await hello(res, A, wat);
    assert.equal((await ask(watA, 'subscribeOnlineStatus')).ok, true);
    const watChat = await res.sseEvents(`${A.url}/chat/stream?token=${wat.token}`);
    await hello(res, B, lee);
    await watA.received.find((f) => f.type === 'onlineStatus' && f.userid === lee.id && f.online, 3000, 'lee online, seen on A');
    const stoppedAt = Date.now();
    const exited = B.server.stop('SIGTERM');
    await watA.received.find((f) => f.type === 'onlineStatus' && f.userid === lee.id && !f.online, 3000, 'lee offline, seen on A');
    const elapsed = Date.now() - stoppedAt;
    diagnostic(t, `SIGTERM of the node: its user offline on A after ${elapsed} ms`);
    assert.ok(elapsed < 1000, `offline after ${elapsed} ms; a graceful stop must not wait for the heartbeat to expire`);
    const disconnected = (e: Event) => e.type === 'user.disconnected' && e.data.id === String(lee.id);
    await watChat.received.find(disconnected, 1000, 'user.disconnected of lee on A');
    assert.equal(await within(exited, 10_000, 'B exiting'), 0);
    assert.equal(watChat.received.count(disconnected), 1);
    assert.ok(!(String(lee.id) in (await call(A.url, 'GET', '/chat/users/online')).json));
  });
});

// ---------------------------------------------------------------------------------------------------

describe('Redis dies (kill -9) under live connections and comes back', { timeout: 90_000 }, () => {
  let cluster: TestCluster;
  let A: ClusterNode;
  let B: ClusterNode;
  let C: ClusterNode;
  let nodes: ClusterNode[];
  const res = new Resources();

  before(async () => {
    cluster = await startCluster();
    nodes = cluster.nodes;
    [A, B, C] = nodes as [ClusterNode, ClusterNode, ClusterNode];
    const added = await cluster.cli(A, ['client', 'add', 'backend', '--secret', clientSecret]);
    assert.equal(added.code, 0, added.stderr);
  });
  // The nodes first: they end what is still open themselves (an EventSource aborted by the client
  // would keep a graceful stop waiting for its keep-alive socket for 4 s).
  after(async () => {
    await cluster?.stop();
    await res.closeAll();
  });

  test('not ready and 503 while it is down, sockets stay open; back by itself, with nothing acknowledged lost', async (t) => {
    const client = await clientToken(A);
    const [sam, tom, una, vic, wes] = await Promise.all([register(A, 'r-sam'), register(B, 'r-tom'), register(C, 'r-una'), register(A, 'r-vic'), register(B, 'r-wes')]);

    // Acknowledged before the crash: two notifications, a chat message, a dm.
    for (const payload of ['before 1', 'before 2']) assert.equal((await notify(A, client, ['r-pat'], payload)).status, 202);
    const unaCookie = await chatLogin(B, una);
    assert.equal((await call(B.url, 'POST', '/chat/room/0/messages', { message: 'chat before' }, { cookie: unaCookie })).status, 201);
    const vicA = await res.wsEvents(`${A.wsUrl}/chats/r-wes`, bearer(vic.token));
    const wesC = await res.wsEvents(`${C.wsUrl}/chats/r-vic`, bearer(wes.token));
    vicA.socket.send('dm before');
    await wesC.received.find(isDm, 3000, 'the dm before the crash');

    // Live connections on every node.
    const patB = await res.sseEvents(`${B.url}/sse?token=${await streamToken(B, client, 'r-pat')}`);
    await patB.received.find((e) => payloadOf(e) === 'before 2', 3000, 'the replay on B');
    const samA = await hello(res, A, sam);
    const samB = await hello(res, B, sam);
    const tomA = await hello(res, A, tom);
    const unaC = await hello(res, C, una);
    const unaChat = await res.wsEvents(`${B.wsUrl}/chat/ws`, { cookie: unaCookie });
    const getAll = async (p: { socket: WsClient; received: Received<any> }) => (await ask(p, 'getAllOnline')).users as number[];
    await waitFor('every node sees sam, tom and una', async () => {
      const lists = await Promise.all([samA, samB, unaC].map(getAll));
      return lists.every((list) => [sam, tom, una].every((u) => list.includes(u.id)));
    }, 3000);
    for (const node of nodes) assert.equal((await call(node.url, 'GET', '/readyz')).status, 200);

    // Redis crashes.
    const killedAt = Date.now();
    await cluster.redis.kill('SIGKILL');
    await waitFor('every node says not ready', async () => (await Promise.all(nodes.map((node) => call(node.url, 'GET', '/readyz')))).every((r) => r.status === 503 && r.json.status === 'not ready'), 5000, 20);
    diagnostic(t, `/readyz 503 on every node ${Date.now() - killedAt} ms after kill -9 of Redis`);
    for (const node of nodes) assert.deepEqual(await call(node.url, 'GET', '/healthz').then((r) => [r.status, r.json]), [200, { status: 'ok' }], `healthz on ${node.name}`);

    // Writes answer 503 in each hub's own shape, never 500.
    const notified = await notify(A, client, ['r-pat'], 'during');
    assert.deepEqual([notified.status, notified.json], [503, { error: unavailable }], 'notify');
    assert.equal(notified.headers.get('retry-after'), '1');
    const ackDuring = await call(C.url, 'POST', '/api/message/acknowledge', { user_id: 'r-pat', message_ids: [1] }, bearer(client));
    assert.deepEqual([ackDuring.status, ackDuring.json], [503, { error: unavailable }], 'notify acknowledge');
    const registered = await call(B.url, 'POST', '/dm/register', { name: 'Late', username: 'r-late', password });
    assert.deepEqual([registered.status, registered.json], [503, { code: '503', message: 'service_unavailable', content: null }], 'dm register');
    const dmLogin = await call(C.url, 'POST', '/login', { username: 'r-vic', password });
    assert.deepEqual([dmLogin.status, dmLogin.json], [503, { code: '503', message: 'service_unavailable', content: null }], 'dm login');
    const posted = await call(C.url, 'POST', '/chat/room/0/messages', { message: 'during' }, { cookie: unaCookie });
    assert.deepEqual([posted.status, posted.json], [503, { message: unavailable }], 'chat message');
    const history = await call(A.url, 'GET', '/chat/room/0/messages', undefined, { cookie: unaCookie });
    assert.deepEqual([history.status, history.json], [503, { message: unavailable }], 'chat history');

    // Open sockets and streams stay open and answer.
    for (const p of [samA, samB, unaC]) assert.equal((await ask(p, 'ping')).type, 'pong');
    const stillOpen = [samA.socket, samB.socket, tomA.socket, unaC.socket, vicA.socket, wesC.socket, unaChat.socket];
    // Down for longer than node_timeout: every node's heartbeat expires meanwhile.
    await sleep(2500 - (Date.now() - killedAt));
    const names = ['samA', 'samB', 'tomA', 'unaC', 'vicA', 'wesC', 'unaChat'];
    const closed = await Promise.all(stillOpen.map(async (socket, i) => (socket.ws.readyState === socket.ws.OPEN ? undefined : `${names[i]} ${JSON.stringify(await socket.closed)}`)));
    assert.deepEqual(closed.filter(Boolean), [], 'every socket still open after node_timeout');
    const patState = await Promise.race([patB.stream.ended.then(() => 'ended'), sleep(10).then(() => 'open')]);
    assert.equal(patState, 'open', 'the notify stream on B is still open');
    for (const node of nodes) assert.equal(node.server.child.exitCode, null, `${node.name} still running`);

    // Redis is back (same port, same data): the nodes reconnect by themselves.
    await cluster.redis.restart();
    const restartedAt = Date.now();
    await waitFor('every node ready again', async () => (await Promise.all(nodes.map((node) => call(node.url, 'GET', '/readyz')))).every((r) => r.status === 200), 10_000, 20);
    const recovery = Date.now() - restartedAt;
    diagnostic(t, `/readyz 200 on every node ${recovery} ms after Redis restarted (outage ${restartedAt - killedAt} ms)`);
    assert.ok(recovery < 5000, `ready again after ${recovery} ms`);

    // Ready means writable: a write on each node at once succeeds. And the bus is subscribed again: the
    // notification sent on A reaches the stream opened on B before the crash, the chat message posted
    // on C reaches the chat socket on B.
    const [notifiedAfter, registeredAfter, postedAfter] = await Promise.all([
      notify(A, client, ['r-pat'], 'after'),
      call(B.url, 'POST', '/dm/register', { name: 'Late', username: 'r-late', password }),
      call(C.url, 'POST', '/chat/room/0/messages', { message: 'chat after' }, { cookie: unaCookie }),
    ]);
    assert.deepEqual([notifiedAfter.status, notifiedAfter.json], [202, { recipients: 1 }], 'notify on A right after ready');
    assert.equal(registeredAfter.status, 200, `dm register on B right after ready: ${JSON.stringify(registeredAfter.json)}`);
    assert.equal(postedAfter.status, 201, `chat message on C right after ready: ${JSON.stringify(postedAfter.json)}`);
    await patB.received.find((e) => payloadOf(e) === 'after', 3000, "the new notification on B's old stream");
    assert.equal(patB.received.count((e) => payloadOf(e) === 'during'), 0);
    await unaChat.received.find(chatMessage('chat after'), 3000, 'chat after, on B');
    vicA.socket.send('dm after');
    await wesC.received.find((f) => isDm(f) && f.body === 'dm after', 3000, 'dm after, on C');

    // Presence is right again on every node, after every heartbeat had expired: sam (once), tom, una.
    const lists = await waitFor('presence right again on every node', async () => {
      const all = await Promise.all([samA, samB, unaC].map(getAll));
      const backend = await Promise.all(nodes.map(async (node) => (await call(node.url, 'GET', '/presence/online', undefined, bearer(client))).json.users as number[]));
      const right = [...all, ...backend].every((list) => [sam, tom, una].every((u) => list.includes(u.id)));
      const same = [...all, ...backend].every((list) => JSON.stringify(list) === JSON.stringify(all[0]));
      return right && same && all;
    }, 8000, 100);
    diagnostic(t, `presence agreed on every node ${Date.now() - restartedAt} ms after the restart`);
    for (const list of lists) assert.equal(list.filter((id) => id === sam.id).length, 1);
    // ... and changes travel again: tom leaves A, and no node keeps him.
    tomA.socket.close();
    await waitFor('tom offline on every node', async () => {
      const lists = await Promise.all([samA, samB, unaC].map(getAll));
      const maps = await Promise.all(nodes.map(async (node) => (await call(node.url, 'GET', '/chat/users/online')).json));
      return lists.every((list) => !list.includes(tom.id) && list.includes(sam.id)) && maps.every((map) => !(String(tom.id) in map) && String(una.id) in map);
    }, 3000);

    // Nothing acknowledged before the crash is lost.
    const patC = await res.sseEvents(`${C.url}/sse?token=${await streamToken(C, client, 'r-pat')}`);
    await patC.received.find((e) => payloadOf(e) === 'after', 3000, 'the replay on C');
    assert.deepEqual(patC.received.all.map(payloadOf), ['before 1', 'before 2', 'after']);
    const chatHistory = await call(A.url, 'GET', '/chat/room/0/messages?size=10', undefined, { cookie: unaCookie });
    assert.deepEqual(chatHistory.json.map((m: any) => m.message), ['chat after', 'chat before']);
    const dmHistory = await call(B.url, 'GET', '/dm/chats/r-wes/messages', undefined, bearer(vic.token));
    assert.deepEqual(dmHistory.json.content.map((m: any) => m.body), ['dm before', 'dm after']);
    assert.equal((await call(C.url, 'POST', '/dm/login', { username: 'r-vic', password })).status, 200, 'the directory too');
  });
  test('while Redis is down, no client coming, going or writing over a socket ends a node, and refusals are 503', async () => {
    const [gil, hal, ivy, jon] = await Promise.all([register(A, 'o-gil'), register(B, 'o-hal'), register(C, 'o-ivy'), register(A, 'o-jon')]);
    const gilA = await hello(res, A, gil);
    const halChat = await res.wsEvents(`${B.wsUrl}/chat/ws`, { cookie: await chatLogin(B, hal) });
    const ivyCookie = await chatLogin(C, ivy);
    const ivyC = await res.wsEvents(`${C.wsUrl}/chats/o-jon`, bearer(ivy.token));
    await waitFor('C knows gil is online', async () => String(gil.id) in (await call(C.url, 'GET', '/chat/users/online')).json, 3000);
    const problems: string[] = [];
    await cluster.redis.kill('SIGKILL');
    try {
      await waitFor('every node says not ready', async () => (await Promise.all(nodes.map((node) => call(node.url, 'GET', '/readyz')))).every((r) => r.status === 503), 5000, 20);
      // A: a user goes offline.
      gilA.socket.close();
      // B: a message over the chat socket.
      halChat.socket.send({ type: 'message', data: { roomId: '0', message: 'during' } });
      const answer = await halChat.received.find((f) => f.type === 'error', 1000, 'an error frame on the chat socket').catch((error: Error) => error.message);
      if (JSON.stringify(answer) !== JSON.stringify({ type: 'error', data: { message: unavailable } })) problems.push(`chat socket message: ${JSON.stringify(answer)}`);
      // C: a dm upgrade, a dm message, then a chat upgrade.
      const dmUpgrade = await upgrade(C.port, '/chats/o-ivy', bearer(jon.token)).catch((error: Error) => error.message);
      if (JSON.stringify(dmUpgrade) !== JSON.stringify({ status: 503, body: { code: '503', message: 'service_unavailable', content: null } })) problems.push(`dm upgrade: ${JSON.stringify(dmUpgrade)}`);
      ivyC.socket.send('during');
      const frame = await ivyC.received.find((f) => typeof f.code === 'string', 1000, 'an error frame on the dm socket').catch((error: Error) => error.message);
      if (frame?.code !== '503') problems.push(`dm socket message: ${JSON.stringify(frame)}`);
      const chatUpgrade = await upgrade(C.port, '/chat/ws', { cookie: ivyCookie }, 2000).catch((error: Error) => error.message);
      if (JSON.stringify(chatUpgrade) !== JSON.stringify({ status: 503, body: { message: unavailable } })) problems.push(`chat upgrade: ${JSON.stringify(chatUpgrade)}`);
      await sleep(300);
      for (const node of nodes) {
        if (node.server.child.exitCode !== null) {
          const crash = node.server.logs.filter((line) => line.event === 'unparsed').map((line) => line.line).find((line) => /^\w*Error: /.test(String(line)));
          problems.push(`node ${node.name} exited (${node.server.child.exitCode}): ${crash}`);
        }
      }
    } finally {
      await cluster.redis.restart();
    }
    assert.deepEqual(problems, []);
  });
});
