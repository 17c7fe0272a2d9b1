// 1:1 latency at a fixed rate with idle connections open: `idle` idle sockets, then `pairs` pairs of
// users, each sender's socket writing to its peer at rate/pairs msg/s for `seconds`; latency from
// send to receipt in this process. flashhub: dm sockets /dm/chats/<peer>?token= (stored durably, then
// delivered: the real path). Baselines: ws-bare /dm?id=&to= relay, Socket.IO rooms.
import type WebSocket from 'ws';
import type { Socket } from 'socket.io-client';
import { config, finish, mark, openSio, openWs, pool, registerUsers, until } from './clients.ts';

const rate: number = config.rate;
const seconds: number = config.seconds;
const IDLE: number = config.idle;
const PAIRS: number = config.pairs;
const lat: number[] = [];
const conns: { close(): void }[] = [];
let failed = 0;
const onBody = (text: string) => {
  const t = Number(text);
  if (Number.isFinite(t)) lat.push(performance.now() - t);
};

type Sender = (text: string) => void;
const senders: Sender[] = [];

if (config.system === 'flashhub') {
  const users = await registerUsers(PAIRS * 2 + 1, 'dm');
  const idleUser = users[PAIRS * 2]!;
  await pool(IDLE, 200, async (i) => {
    try {
      const u = users[i % (PAIRS * 2)]!;
      // idle sockets of the pair users would get their messages too: open them to the idle user's chat
      // as that idle user instead, so only the measured sockets carry traffic
      void u;
      const ws = await openWs(`/dm/chats/${users[0]!.username}?token=${idleUser.token}`, () => {});
      conns.push({ close: () => ws.terminate() });
    } catch {
      failed++;
    }
  });
  for (let p = 0; p < PAIRS; p++) {
    const a = users[2 * p]!;
    const b = users[2 * p + 1]!;
    const wa: WebSocket = await openWs(`/dm/chats/${b.username}?token=${a.token}`, () => {});
    const wb: WebSocket = await openWs(`/dm/chats/${a.username}?token=${b.token}`, (d) => onBody((JSON.parse(d.toString()) as { body: string }).body));
    conns.push({ close: () => wa.terminate() }, { close: () => wb.terminate() });
    senders.push((t) => wa.send(t));
  }
} else if (config.system === 'ws-bare') {
  await pool(IDLE, 200, async (i) => {
    const ws = await openWs(`/dm?id=idle${i % 20}&to=nobody`, () => {});
    conns.push({ close: () => ws.terminate() });
  });
  for (let p = 0; p < PAIRS; p++) {
    const wa: WebSocket = await openWs(`/dm?id=a${p}&to=b${p}`, () => {});
    await openWs(`/dm?id=b${p}&to=a${p}`, (d) => onBody(d.toString()));
    senders.push((t) => wa.send(t));
  }
} else {
  await pool(IDLE, 200, async (i) => {
    const s = await openSio({ kind: 'dm', id: `idle${i % 20}`, to: 'nobody' }, () => {});
    conns.push({ close: () => s.disconnect() });
  });
  for (let p = 0; p < PAIRS; p++) {
    const sa: Socket = await openSio({ kind: 'dm', id: `a${p}`, to: `b${p}` }, () => {});
    await openSio({ kind: 'dm', id: `b${p}`, to: `a${p}` }, onBody);
    senders.push((t) => sa.emit('m', t));
  }
}

/** Sends at `rate` msg/s for `duration` seconds, round-robin over the pairs; resolves with the count. */
function sendAtRate(duration: number): Promise<number> {
  let sent = 0;
  const t0 = performance.now();
  return new Promise<number>((resolve) => {
    const timer = setInterval(() => {
      const due = Math.floor(((performance.now() - t0) / 1000) * rate);
      while (sent < due && sent < rate * duration) senders[sent++ % senders.length]!(String(performance.now()));
      if (sent >= rate * duration) {
        clearInterval(timer);
        resolve(sent);
      }
    }, 2);
  });
}

// an unmeasured second at the same rate first, so every server's code path is compiled (flashhub
// runs from TypeScript sources) and p99 is not its first few messages
const warm = await sendAtRate(1);
await until(() => lat.length >= warm, 10_000);
await new Promise((r) => setTimeout(r, 300));
lat.length = 0;
await mark('start');
const sent = await sendAtRate(seconds);
const complete = await until(() => lat.length >= sent, 10_000);
await mark('end');
lat.sort((a, b) => a - b);
const pct = (p: number) => lat[Math.min(lat.length - 1, Math.floor(lat.length * p))] ?? NaN;
finish({ sent, received: lat.length, complete, delivered: lat.length, expected: sent, failed, p50: pct(0.5), p99: pct(0.99), max: lat[lat.length - 1], rate, idle: IDLE });
for (const c of conns) c.close();
process.exit(0);
