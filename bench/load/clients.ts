// What every load generator shares: the protocol with the orchestrator (JSON lines out, "ok" lines in),
// many client connections spread over loopback source addresses, and flashhub's real account flows
// (dm's POST /register gives a user token that presence HELLO, chat ?token= and dm sockets accept).
import { createInterface } from 'node:readline';
import WebSocket from 'ws';
import { io as sioConnect, type Socket } from 'socket.io-client';

export interface LoadConfig {
  system: 'flashhub' | 'ws-bare' | 'sse-bare' | 'sio';
  port: number;
  [k: string]: any;
}

export const config: LoadConfig = JSON.parse(process.argv[2] ?? '{}');
export const base = `http://127.0.0.1:${config.port}`;

const stdinLines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();

/** Asks the orchestrator to take a CPU/RSS sample named `name` and waits until it has. */
export async function mark(name: string): Promise<void> {
  console.log(JSON.stringify({ mark: name }));
  await stdinLines.next();
}

export function finish(result: Record<string, unknown>): void {
  console.log(JSON.stringify({ result }));
}

let addr = 0;
/** Rotates over 127.0.0.2 … 127.0.0.9 so 10k+ connections never run out of source ports. */
export function localAddress(): string {
  addr = (addr + 1) % 8;
  return `127.0.0.${addr + 2}`;
}

export async function pool<T>(n: number, concurrency: number, task: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = new Array(n);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, n) }, async () => {
      while (next < n) {
        const i = next++;
        out[i] = await task(i);
      }
    }),
  );
  return out;
}

export async function postJson(path: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; json: any }> {
  const r = await fetch(base + path, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  const text = await r.text();
  let json: any = text;
  try {
    json = JSON.parse(text);
  } catch {}
  return { status: r.status, json };
}

export interface BenchUser {
  username: string;
  token: string;
  id: number;
}

/** Registers `n` users through dm's POST /register (the real directory, scrypt and all). */
export async function registerUsers(n: number, prefix: string): Promise<BenchUser[]> {
  return pool(n, 8, async (i) => {
    const username = `${prefix}${i}`;
    const r = await postJson('/dm/register', { name: username, username, password: 'bench-password-1' });
    if (r.status !== 200) throw new Error(`register ${username}: ${r.status} ${JSON.stringify(r.json)}`);
    const token = r.json.content.token as string;
    const claims = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString());
    return { username, token, id: Number(claims.sub) };
  });
}

/** A client token for notify's API. */
export async function clientToken(id: string, secret: string): Promise<string> {
  const r = await postJson('/api/auth/token', { client_id: id, client_secret: secret });
  if (r.status !== 200) throw new Error(`client token: ${r.status} ${JSON.stringify(r.json)}`);
  return r.json.access_token as string;
}

export interface Conn {
  close(): void;
}

/** Opens a WebSocket; `onMessage` sees each message (text as Buffer, unparsed unless the caller parses). */
export function openWs(path: string, onMessage: (data: WebSocket.RawData) => void, headers: Record<string, string> = {}): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${config.port}${path}`, { localAddress: localAddress(), headers, perMessageDeflate: false });
    ws.on('message', onMessage);
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
    ws.once('unexpected-response', (_q, res) => reject(new Error(`HTTP ${res.statusCode} for ${path}`)));
  });
}

export function openSio(query: Record<string, string>, onMessage: (data: string) => void): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = sioConnect(base, { transports: ['websocket'], query, reconnection: false, forceNew: true, localAddress: localAddress() } as any);
    s.on('m', onMessage);
    s.once('connect', () => resolve(s));
    s.once('connect_error', reject);
  });
}

/** Waits until `done()` or the deadline; true when done. */
export async function until(done: () => boolean, ms: number, step = 5): Promise<boolean> {
  const deadline = performance.now() + ms;
  while (!done()) {
    if (performance.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, step));
  }
  return true;
}
