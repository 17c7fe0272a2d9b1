// Idle memory per connection: 200 warm-up connections, then mark, then `connections` more held
// idle; the orchestrator reads the server's RSS at both marks. Paths (flashhub):
//   presence-ws: /presence/ws after HELLO · dm-ws: /dm/chats/<peer>?token= · chat-sse: /chat/stream?token=
//   notify-sse: /sse?token=<stream token>
// Baselines: ws-bare /fan, sse-bare /stream, Socket.IO connections.
import { CLIENT_ID, CLIENT_SECRET } from '../servers/start.ts';
import { config, clientToken, finish, mark, openSio, openSse, openWs, pool, registerUsers, until, type BenchUser } from './clients.ts';

const N: number = config.connections;
const path: string = config.path ?? '';
const WARM = 200;
const conns: { close(): void }[] = [];
let failed = 0;
let open: (i: number) => Promise<void>;

if (config.system === 'flashhub') {
  const users: BenchUser[] = await registerUsers(11, 'idle');
  const U = 10;
  if (path === 'presence-ws') {
    open = async (i) => {
      const u = users[i % U]!;
      let ok = false;
      const ws = await openWs('/presence/ws', () => (ok = true));
      ws.send(JSON.stringify({ type: 'HELLO', userid: u.id, accesstoken: u.token }));
      conns.push({ close: () => ws.terminate() });
      if (!(await until(() => ok, 10_000))) failed++;
    };
  } else if (path === 'dm-ws') {
    open = async (i) => {
      const u = users[i % U]!;
      const ws = await openWs(`/dm/chats/${users[10]!.username}?token=${u.token}`, () => {});
      conns.push({ close: () => ws.terminate() });
    };
  } else if (path === 'chat-sse') {
    open = async (i) => {
      const req = await openSse(`/chat/stream?token=${users[i % U]!.token}`, () => {});
      conns.push({ close: () => req.destroy() });
    };
  } else if (path === 'notify-sse') {
    const ct = await clientToken(CLIENT_ID, CLIENT_SECRET);
    const tokens = await pool(U, 8, async (i) => {
      const r = await fetch(`http://127.0.0.1:${config.port}/api/user/${users[i]!.username}/token`, { headers: { authorization: `Bearer ${ct}` } });
      return ((await r.json()) as { access_token: string }).access_token;
    });
    open = async (i) => {
      const req = await openSse(`/sse?token=${tokens[i % U]}`, () => {});
      conns.push({ close: () => req.destroy() });
    };
  } else throw new Error(`unknown path ${path}`);
} else if (config.system === 'ws-bare') {
  open = async () => {
    const ws = await openWs('/fan', () => {});
    conns.push({ close: () => ws.terminate() });
  };
} else if (config.system === 'sse-bare') {
  open = async () => {
    const req = await openSse('/stream', () => {});
    conns.push({ close: () => req.destroy() });
  };
} else {
  open = async () => {
    const s = await openSio({ kind: 'fan' }, () => {});
    conns.push({ close: () => s.disconnect() });
  };
}

const guarded = async (i: number) => {
  try {
    await open(i);
  } catch {
    failed++;
  }
};
await pool(WARM, 100, guarded);
await new Promise((r) => setTimeout(r, 500));
await mark('start');
const t0 = performance.now();
await pool(N, 200, (i) => guarded(WARM + i));
await new Promise((r) => setTimeout(r, 1000));
await mark('end');
finish({ connections: N, failed, openSeconds: (performance.now() - t0) / 1000 - 1, path });
for (const c of conns) c.close();
process.exit(0);
