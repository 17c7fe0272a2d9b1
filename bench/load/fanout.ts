// Fan-out: N subscribers, then publishes for `seconds` (at most `window` publishes in flight, counted
// by deliveries), deliveries per second. Paths:
//   flashhub presence-ws : presence sockets after HELLO; a publish = the publisher's HELLO or GOODBYE,
//                          which broadcasts {"type":"online","users":[...]} to every HELLO'd socket
//   flashhub chat-sse    : chat /chat/stream?token= EventSources; publish = POST /chat/room/0/messages
//   flashhub chat-ws     : chat /chat/ws sockets; publish = POST /chat/room/0/messages
//   flashhub notify-sse  : notify /sse?token= streams of one group's members; publish = POST /api/message/notify {groups}
//   ws-bare / sse-bare / sio : subscribers, publish = POST /publish with a payload of the same size
// The subscribers live in counter.c (receiving in Node made the load generator the bottleneck).
// With `ports` (the nodes of a cluster, bench/cluster.ts) the subscribers are spread over every
// node, one counter each; setting up and publishing go to the first.
import { CLIENT_ID, CLIENT_SECRET } from '../servers/start.ts';
import { config, clientToken, finish, mark, openWs, pool, postJson, registerUsers, until, type BenchUser } from './clients.ts';
import { openCounter, type Counter, type CounterConnection } from './counter.ts';

const N: number = config.subscribers;
const seconds: number = config.seconds ?? 3;
const window: number = config.window ?? Math.max(8, Math.round(64_000 / N));
const path: string = config.path ?? 'ws';
const USERS = Math.min(20, N);
let delivered = 0;
let baseline = 0;
let wake: (() => void) | undefined;
let published = 0;
const got = (count: number): void => {
  delivered = count - baseline;
  // wake the publisher only when a whole publish has arrived everywhere: waking it on every read
  // (a timer and a promise each time) made the load generator the bottleneck
  if (wake && published - Math.floor(delivered / N) < window) {
    const w = wake;
    wake = undefined;
    w();
  }
};
const conns: { close(): void }[] = [];
const subscribers: CounterConnection[] = [];
const payload = JSON.stringify({ type: 'message', data: { id: '1700000000000-0', from: '1', date: 1700000000, message: 'hello everyone, this is a fan-out benchmark message', roomId: '0' } });

let publish: () => Promise<void>;

if (config.system === 'flashhub') {
  const users = await registerUsers(USERS, 'sub');
  const [pub] = (await registerUsers(1, 'pub')) as [BenchUser];
  if (path === 'presence-ws') {
    for (let i = 0; i < N; i++) {
      const u = users[i % USERS]!;
      // counted from the frame after the HELLO reply: every one is an online broadcast
      subscribers.push({ kind: 'ws', path: '/presence/ws', hello: JSON.stringify({ type: 'HELLO', userid: u.id, accesstoken: u.token }) });
    }
    // the publisher's HELLO is answered after an async token check: wait for each reply (ok frame)
    // before the next toggle, or a GOODBYE could overtake the HELLO and one change would be lost
    let replied: (() => void) | undefined;
    const pws = await openWs('/presence/ws', (d) => {
      if (d.toString().includes('"ok"')) replied?.();
    });
    conns.push({ close: () => pws.terminate() });
    let online = false;
    let chain = Promise.resolve();
    publish = () =>
      (chain = chain.then(
        () =>
          new Promise<void>((resolve) => {
            replied = resolve;
            pws.send(JSON.stringify(online ? { type: 'GOODBYE' } : { type: 'HELLO', userid: pub.id, accesstoken: pub.token }));
            online = !online;
          }),
      ));
  } else if (path === 'chat-sse' || path === 'chat-ws') {
    for (let i = 0; i < N; i++) {
      const token = users[i % USERS]!.token;
      subscribers.push(path === 'chat-sse' ? { kind: 'sse', path: `/chat/stream?token=${token}` } : { kind: 'ws', path: `/chat/ws?token=${token}` });
    }
    publish = async () => {
      const r = await fetch(`http://127.0.0.1:${config.port}/chat/room/0/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${pub.token}` },
        body: JSON.stringify({ message: 'hello everyone, this is a fan-out benchmark message' }),
      });
      if (r.status !== 201) throw new Error(`chat post: ${r.status} ${await r.text()}`);
      await r.arrayBuffer();
    };
  } else if (path === 'notify-sse') {
    const ct = await clientToken(CLIENT_ID, CLIENT_SECRET);
    const auth = { authorization: `Bearer ${ct}` };
    const g = await postJson('/api/group', { group_id: 'bench', users: users.map((u) => u.username) }, auth);
    if (g.status >= 300) throw new Error(`group: ${g.status} ${JSON.stringify(g.json)}`);
    const streamTokens = await pool(USERS, 8, async (i) => {
      const r = await fetch(`http://127.0.0.1:${config.port}/api/user/${users[i]!.username}/token`, { headers: auth });
      return ((await r.json()) as { access_token: string }).access_token;
    });
    for (let i = 0; i < N; i++) subscribers.push({ kind: 'sse', path: `/sse?token=${streamTokens[i % USERS]}` });
    publish = async () => {
      const r = await postJson('/api/message/notify', { groups: ['bench'], payload: 'hello everyone, this is a fan-out benchmark message' }, auth);
      if (r.status !== 202) throw new Error(`notify: ${r.status} ${JSON.stringify(r.json)}`);
    };
  } else throw new Error(`unknown path ${path}`);
} else {
  const kind = config.system === 'ws-bare' ? 'ws' : config.system === 'sse-bare' ? 'sse' : 'sio';
  const where = { ws: '/fan', sse: '/stream', sio: '/socket.io/?kind=fan&EIO=4&transport=websocket' }[kind];
  for (let i = 0; i < N; i++) subscribers.push({ kind, path: where });
  publish = async () => {
    const r = await fetch(`http://127.0.0.1:${config.port}/publish`, { method: 'POST', body: payload });
    await r.arrayBuffer();
  };
}

const ports: number[] = config.ports ?? [config.port];
const counters: Counter[] = [];
const total = () => counters.reduce((sum, c) => sum + c.count, 0);
for (const [i, port] of ports.entries()) {
  const mine = subscribers.filter((_, j) => j % ports.length === i);
  counters.push(await openCounter(mine, () => got(total()), port));
}
conns.push(...counters);
const failed = counters.reduce((sum, c) => sum + c.failed, 0);
if (failed > 0) throw new Error(`${failed} of ${N} subscribers failed to connect`);

// let set-up traffic (online lists, user.connected, pings) settle, then count from zero
await new Promise((r) => setTimeout(r, 300));
let last = -1;
await until(() => {
  const quiet = delivered === last;
  last = delivered;
  return quiet;
}, 10_000, 200);
baseline = total();
delivered = 0;

await mark('start');
const t0 = performance.now();
let posting = 0;
let publishErrors = 0;
const end = t0 + seconds * 1000;
while (performance.now() < end) {
  const inFlight = published - Math.floor(delivered / N);
  if (inFlight >= window || posting >= window) {
    await new Promise<void>((r) => {
      wake = r;
      setTimeout(r, 20);
    });
    continue;
  }
  published++;
  posting++;
  // publishes overlap (up to `window`), as concurrent publishers would: a durable POST's latency
  // must not cap the rate
  publish()
    .catch(() => publishErrors++)
    .finally(() => {
      posting--;
      const w = wake;
      wake = undefined;
      w?.();
    });
}
const complete = await until(() => delivered >= published * N, config.drainMs ?? 10_000, 2);
const elapsed = (performance.now() - t0) / 1000;
await mark('end');
finish({ subscribers: N, published, publishErrors, delivered, expected: published * N, complete, elapsed, perSecond: delivered / elapsed, path });
for (const c of conns) c.close();
process.exit(0);
