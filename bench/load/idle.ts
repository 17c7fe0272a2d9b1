// Idle memory per connection: 200 warm-up connections, then mark, then `connections` more held
// idle; the orchestrator reads the server's RSS at both marks. The connections live in counter.c
// processes (one for the warm-up, one for the rest: each process may hold 20,000 open files, so the
// largest run, about 19,900 on the server, fits). Paths (flashhub):
//   presence-ws: /presence/ws after HELLO · dm-ws: /dm/chats/<peer>?token= · chat-sse: /chat/stream?token=
//   notify-sse: /sse?token=<stream token>
// Baselines: ws-bare /fan, sse-bare /stream, Socket.IO connections.
import { CLIENT_ID, CLIENT_SECRET } from '../servers/start.ts';
import { config, clientToken, finish, mark, pool, registerUsers, type BenchUser } from './clients.ts';
import { openCounter, type CounterConnection } from './counter.ts';

const N: number = config.connections;
const path: string = config.path ?? '';
const WARM = 200;
let connection: (i: number) => CounterConnection;

if (config.system === 'flashhub') {
  const users: BenchUser[] = await registerUsers(11, 'idle');
  const U = 10;
  if (path === 'presence-ws') {
    connection = (i) => ({ kind: 'ws', path: '/presence/ws', hello: JSON.stringify({ type: 'HELLO', userid: users[i % U]!.id, accesstoken: users[i % U]!.token }) });
  } else if (path === 'dm-ws') {
    connection = (i) => ({ kind: 'ws', path: `/dm/chats/${users[10]!.username}?token=${users[i % U]!.token}` });
  } else if (path === 'chat-sse') {
    connection = (i) => ({ kind: 'sse', path: `/chat/stream?token=${users[i % U]!.token}` });
  } else if (path === 'notify-sse') {
    const ct = await clientToken(CLIENT_ID, CLIENT_SECRET);
    const tokens = await pool(U, 8, async (i) => {
      const r = await fetch(`http://127.0.0.1:${config.port}/api/user/${users[i]!.username}/token`, { headers: { authorization: `Bearer ${ct}` } });
      return ((await r.json()) as { access_token: string }).access_token;
    });
    connection = (i) => ({ kind: 'sse', path: `/sse?token=${tokens[i % U]}` });
  } else throw new Error(`unknown path ${path}`);
} else if (config.system === 'ws-bare') connection = () => ({ kind: 'ws', path: '/fan' });
else if (config.system === 'sse-bare') connection = () => ({ kind: 'sse', path: '/stream' });
else connection = () => ({ kind: 'sio', path: '/socket.io/?kind=fan&EIO=4&transport=websocket' });

const warm = await openCounter(Array.from({ length: WARM }, (_, i) => connection(i)));
await new Promise((r) => setTimeout(r, 500));
await mark('start');
const held = await openCounter(Array.from({ length: N }, (_, i) => connection(WARM + i)));
await new Promise((r) => setTimeout(r, 1000));
await mark('end');
const failed = warm.failed + held.failed;
finish({ connections: N, failed, openSeconds: held.openSeconds, path, complete: failed === 0 });
warm.close();
held.close();
process.exit(0);
