// HTTP publish: POST /api/message/notify (flashhub, client token, durable) or the bare node:http
// handler's POST /notify (JSON.parse + 202), driven by Debian's wrk with a Lua script (64 connections),
// or, without wrk, by a bounded node loop. wrk runs as this process's child, so its CPU counts as the
// load generator's.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CLIENT_ID, CLIENT_SECRET } from '../servers/start.ts';
import { config, clientToken, finish, mark, pool, postJson } from './clients.ts';

const seconds: number = config.seconds ?? 5;
const CONNS = 64;
const body = JSON.stringify({ users: ['bench-user-1'], payload: { title: 'invoice paid', amount: 42, id: 'inv-1234' } });
const headers: Record<string, string> = { 'content-type': 'application/json' };
let route = '/notify';
if (config.system === 'flashhub') {
  headers.authorization = `Bearer ${await clientToken(CLIENT_ID, CLIENT_SECRET)}`;
  route = '/api/message/notify';
  const r = await postJson(route, JSON.parse(body), headers); // creates the user
  if (r.status !== 202) throw new Error(`notify: ${r.status} ${JSON.stringify(r.json)}`);
}

const useWrk = existsSync('/usr/bin/wrk');
// Both servers get the same unmeasured warm-up, so the JIT has compiled the request path (flashhub
// runs from TypeScript sources; its first second is mostly compilation).
await (useWrk ? runWrk(1) : runNodeLoop(1));
await mark('start');
const t0 = performance.now();
const { requests, errors } = useWrk ? await runWrk(seconds) : await runNodeLoop(seconds);
const tool = useWrk ? 'wrk' : 'node';
const elapsed = (performance.now() - t0) / 1000;
await mark('end');
finish({ requests, errors, elapsed, perSecond: (requests - errors) / elapsed, tool, connections: CONNS, complete: errors === 0, delivered: requests - errors, expected: requests });
process.exit(0);

async function runWrk(duration: number): Promise<{ requests: number; errors: number }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'flashhub-bench-wrk-'));
  const script = path.join(dir, 'post.lua');
  writeFileSync(
    script,
    `wrk.method = "POST"\nwrk.body = ${JSON.stringify(body)}\n${Object.entries(headers).map(([k, v]) => `wrk.headers[${JSON.stringify(k)}] = ${JSON.stringify(v)}`).join('\n')}\n`,
  );
  // With `ports` (a cluster's nodes, bench/cluster.ts): one wrk per node, the connections split.
  const ports: number[] = config.ports ?? [config.port];
  const outs = await Promise.all(
    ports.map(
      (port) =>
        new Promise<string>((resolve) => {
          const conns = Math.max(1, Math.round(CONNS / ports.length));
          const child = spawn('wrk', ['-t1', `-c${conns}`, `-d${duration}s`, '-s', script, `http://127.0.0.1:${port}${route}`]);
          let text = '';
          child.stdout.on('data', (c) => (text += c));
          child.on('close', () => resolve(text));
        }),
    ),
  );
  rmSync(dir, { recursive: true, force: true });
  let requests = 0;
  let errors = 0;
  for (const out of outs) {
    const total = /(\d+) requests in/.exec(out);
    const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(out);
    const sockErr = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
    requests += total ? Number(total[1]) : 0;
    errors += (non2xx ? Number(non2xx[1]) : 0) + (sockErr ? sockErr.slice(1).reduce((a, b) => a + Number(b), 0) : 0);
  }
  return { requests, errors };
}

async function runNodeLoop(duration: number): Promise<{ requests: number; errors: number }> {
  let requests = 0;
  let errors = 0;
  const end = performance.now() + duration * 1000;
  await pool(CONNS, CONNS, async () => {
    while (performance.now() < end) {
      const r = await fetch(`http://127.0.0.1:${config.port}${route}`, { method: 'POST', headers, body });
      await r.arrayBuffer();
      if (r.status === 202) requests++;
      else errors++;
    }
  });
  return { requests, errors };
}
