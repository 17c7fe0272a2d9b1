// Connect storm: `connections` new connections opened by counter.c with 256 handshakes at a time,
// each counted once usable. flashhub, path dm-ws: dm's /dm/chats/<peer>?token= (token, peer and
// connection limit checked before the 101); path presence-ws: /presence/ws + HELLO with a user
// token, usable at the HELLO reply that says ok. Baselines: ws-bare's upgrade without a token,
// Socket.IO's connect (joined "/").
import { config, finish, mark, registerUsers } from './clients.ts';
import { counterBinary, openCounter, type CounterConnection } from './counter.ts';

const N: number = config.connections;
const users = config.system === 'flashhub' ? await registerUsers(21, 'storm') : [];
const peer = users.pop();
const connections: CounterConnection[] = [];
for (let i = 0; i < N; i++) {
  if (config.system === 'flashhub') {
    const u = users[i % users.length]!;
    if (config.path === 'dm-ws') connections.push({ kind: 'ws', path: `/dm/chats/${peer!.username}?token=${u.token}` });
    else connections.push({ kind: 'ws', path: '/presence/ws', hello: JSON.stringify({ type: 'HELLO', userid: u.id, accesstoken: u.token }) });
  } else if (config.system === 'sio') connections.push({ kind: 'sio', path: '/socket.io/?kind=fan&EIO=4&transport=websocket' });
  else connections.push({ kind: 'ws', path: '/fan' });
}
counterBinary();

await mark('start');
const counter = await openCounter(connections);
await mark('end');
finish({ connections: N, failed: counter.failed, elapsed: counter.openSeconds, perSecond: counter.opened / counter.openSeconds, complete: counter.failed === 0 });
counter.close();
process.exit(0);
