// Connect storm: `connections` new connections as fast as 256 concurrent openers manage, each counted
// once usable. flashhub: /presence/ws + HELLO with a user token, counted at the HELLO ok reply (the
// token check on the real path). Baselines: ws-bare's upgrade without a token, Socket.IO connect.
import { config, finish, mark, openSio, openWs, pool, registerUsers, until } from './clients.ts';

const N: number = config.connections;
const conns: { close(): void }[] = [];
let failed = 0;
const users = config.system === 'flashhub' ? await registerUsers(20, 'storm') : [];

await mark('start');
const t0 = performance.now();
await pool(N, 256, async (i) => {
  try {
    if (config.system === 'flashhub') {
      const u = users[i % users.length]!;
      let reply = '';
      const ws = await openWs('/presence/ws', (d) => {
        if (!reply) reply = d.toString();
      });
      conns.push({ close: () => ws.terminate() });
      ws.send(JSON.stringify({ type: 'HELLO', userid: u.id, accesstoken: u.token }));
      if (!(await until(() => reply !== '', 10_000, 2)) || !reply.includes('"ok":true')) failed++;
    } else if (config.system === 'sio') {
      const s = await openSio({ kind: 'fan' }, () => {});
      conns.push({ close: () => s.disconnect() });
    } else {
      const ws = await openWs('/fan', () => {});
      conns.push({ close: () => ws.terminate() });
    }
  } catch {
    failed++;
  }
});
const elapsed = (performance.now() - t0) / 1000;
await mark('end');
finish({ connections: N, failed, elapsed, perSecond: (N - failed) / elapsed });
for (const c of conns) c.close();
process.exit(0);
