// TLS (issue 11): --tls-cert/--tls-key serve HTTPS and WSS on every listener. The test makes its own
// self-signed certificate (and a second, unrelated key) with the openssl command-line tool, which
// must be installed (Debian: apt-get install -y openssl); it trusts that certificate as its only CA.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { EventSource } from 'eventsource';
import { runCli, startFlashhub, tempDir, type RunningFlashhub } from './support/flashhub.ts';
import { connectWs } from './support/ws.ts';

interface Pems {
  cert: string;
  key: string;
  otherKey: string;
  garbage: string;
}

function openssl(args: string[]): void {
  try {
    execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new Error('test/tls.test.ts needs the openssl command-line tool (Debian: apt-get install -y openssl)');
    }
    throw error;
  }
}

/** A self-signed P-256 certificate for localhost and 127.0.0.1, valid for a day, and its key. */
function makeCertificate(dir: string): Pems {
  const files: Pems = {
    cert: path.join(dir, 'cert.pem'),
    key: path.join(dir, 'key.pem'),
    otherKey: path.join(dir, 'other-key.pem'),
    garbage: path.join(dir, 'garbage.pem'),
  };
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
    '-subj', '/CN=flashhub test', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
    '-keyout', files.key, '-out', files.cert]);
  openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-out', files.otherKey]);
  writeFileSync(files.garbage, 'this is not a certificate\n');
  return files;
}

/** GET over HTTPS with only `ca` trusted; resolves with status and body. */
function httpsGet(url: string, ca: string | undefined): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = https.get(url, { ca, agent: false }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
    });
    request.on('error', reject);
    request.setTimeout(5000, () => request.destroy(new Error('no answer within 5 s')));
  });
}

/** A fetch for the eventsource package over node:https, trusting `ca` (global fetch takes no CA). */
function fetchTrusting(ca: string) {
  return (url: string | URL, init?: { method?: string; headers?: Record<string, string>; signal?: AbortSignal }): Promise<Response> =>
    new Promise((resolve, reject) => {
      const request = https.request(url, { method: init?.method ?? 'GET', headers: init?.headers, ca, agent: false, signal: init?.signal }, (response) => {
        const headers = new Headers();
        for (const [name, value] of Object.entries(response.headers)) if (typeof value === 'string') headers.set(name, value);
        resolve(new Response(Readable.toWeb(response) as ReadableStream<Uint8Array>, { status: response.statusCode ?? 0, headers }));
      });
      request.on('error', reject);
      request.end();
    });
}

describe('TLS', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let certDir: Awaited<ReturnType<typeof tempDir>>;
  let pems: Pems;
  let ca: string;
  let server: RunningFlashhub;
  let base: string;

  before(async () => {
    dir = await tempDir();
    certDir = await tempDir('flashhub-tls-');
    pems = makeCertificate(certDir.path);
    ca = readFileSync(pems.cert, 'utf8');
    server = await startFlashhub(['--data', dir.path, '--demo', '--listen', '127.0.0.1:0', '--tls-cert', pems.cert, '--tls-key', pems.key]);
    base = `https://127.0.0.1:${server.port}`;
  });
  after(async () => {
    await server?.stop();
    await dir.remove();
    await certDir.remove();
  });

  test('server.started names the scheme; the key is never logged', () => {
    const started = server.logs.find((line) => line.event === 'server.started')!;
    assert.equal(started.scheme, 'https');
    const keyBody = readFileSync(pems.key, 'utf8').split('\n')[1]!;
    const logged = JSON.stringify(server.logs);
    assert.ok(!logged.includes('PRIVATE KEY') && !logged.includes(keyBody), 'no key material in the logs');
  });

  test('GET /healthz over HTTPS on every listener, with the test certificate trusted', async () => {
    const started = server.logs.find((line) => line.event === 'server.started') as { listening: string[] };
    assert.equal(started.listening.length, 2);
    for (const address of started.listening) {
      const answer = await httpsGet(`https://${address}/healthz`, ca);
      assert.equal(answer.status, 200);
      assert.deepEqual(JSON.parse(answer.body), { status: 'ok' });
    }
  });

  test('a client that does not trust the certificate is refused by its own TLS check', async () => {
    await assert.rejects(httpsGet(`${base}/healthz`, undefined), /self[- ]signed|unable to verify|certificate/i);
  });

  test('plain HTTP to the TLS port fails', async () => {
    await assert.rejects(fetch(`http://127.0.0.1:${server.port}/healthz`, { signal: AbortSignal.timeout(5000) }));
  });

  test('WSS: a presence socket says HELLO and is listed online', async () => {
    const grant = await new Promise<{ access_token: string }>((resolve, reject) => {
      const request = https.request(`${base}/oauth/token`, { method: 'POST', ca, agent: false, headers: { 'content-type': 'application/json' } }, (response) => {
        let body = '';
        response.on('data', (chunk) => (body += chunk));
        response.on('end', () => (response.statusCode === 200 ? resolve(JSON.parse(body)) : reject(new Error(`${response.statusCode} ${body}`))));
      });
      request.on('error', reject);
      request.end(JSON.stringify({ grant_type: 'password', username: 'user@volunteer-vision.com', password: 'start123' }));
    });
    const me = await httpsGetJson(`${base}/users/me`, ca, grant.access_token);
    const userId = me.data.id as number;
    const socket = await connectWs(`wss://127.0.0.1:${server.port}/presence/ws`, { ca });
    try {
      socket.send({ type: 'HELLO', userid: userId, accesstoken: grant.access_token });
      const hello = await socket.next((frame) => frame.type === 'HELLO');
      assert.equal(hello.ok, true, JSON.stringify(hello));
      const online = await socket.next((frame) => frame.type === 'online');
      assert.ok(online.users.includes(userId));
    } finally {
      socket.close();
      await socket.closed;
    }
  });

  test('SSE over HTTPS: an EventSource gets the ping, then what is sent', async () => {
    const source = new EventSource(`${base}/sse?user_id=tls-reader`, { fetch: fetchTrusting(ca) });
    const received: string[] = [];
    source.onmessage = (event) => received.push(event.data);
    const arrived = async (n: number) => {
      const deadline = Date.now() + 5000;
      while (received.length < n) {
        if (Date.now() > deadline) throw new Error(`got ${JSON.stringify(received)}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    };
    try {
      await arrived(1);
      assert.equal(JSON.parse(received[0]!).payload, 'ping');
      assert.equal((await httpsGet(`${base}/notify?user_id=tls-reader`, ca)).status, 204);
      await arrived(2);
      assert.equal(JSON.parse(received[1]!).payload, 'Hello, world!');
    } finally {
      source.close();
    }
  });

  // Last: it stops the server.
  test('SIGTERM over TLS: a WSS socket is closed 1012 and the process exits 0', async () => {
    const socket = await connectWs(`wss://127.0.0.1:${server.port}/presence/ws`, { ca });
    assert.equal(await server.stop('SIGTERM'), 0);
    assert.deepEqual(await socket.closed, { code: 1012, reason: 'server restarting, reconnect shortly' });
  });
});

describe('TLS start-up errors', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let pems: Pems;

  before(async () => {
    dir = await tempDir();
    pems = makeCertificate(dir.path);
  });
  after(() => dir.remove());

  const serve = (...args: string[]) => runCli(['serve', '--host', '127.0.0.1', '--port', '0', '--data', path.join(dir.path, 'data'), ...args]);
  const noKeyMaterial = (stderr: string) => {
    assert.ok(!stderr.includes('PRIVATE KEY'), stderr);
    for (const file of [pems.key, pems.otherKey]) assert.ok(!stderr.includes(readFileSync(file, 'utf8').split('\n')[1]!), stderr);
  };

  test("a key that is not the certificate's refuses to start, naming both files", async () => {
    const result = await serve('--tls-cert', pems.cert, '--tls-key', pems.otherKey);
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, /tls_key: the private key in .*other-key\.pem does not belong to the certificate in .*cert\.pem/);
    noKeyMaterial(result.stderr);
  });

  test('a missing key file refuses to start', async () => {
    const result = await serve('--tls-cert', pems.cert, '--tls-key', path.join(dir.path, 'nowhere.pem'));
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, /tls_key: cannot read .*nowhere\.pem: no such file/);
  });

  test('a certificate file without a certificate refuses to start', async () => {
    const swapped = await serve('--tls-cert', pems.key, '--tls-key', pems.key);
    assert.equal(swapped.code, 2, swapped.stderr);
    assert.match(swapped.stderr, /tls_cert: .*key\.pem holds no PEM certificate/);
    noKeyMaterial(swapped.stderr);
    const garbageKey = await serve('--tls-cert', pems.cert, '--tls-key', pems.garbage);
    assert.equal(garbageKey.code, 2, garbageKey.stderr);
    assert.match(garbageKey.stderr, /tls_key: .*garbage\.pem holds no readable PEM private key/);
  });

  test('a certificate without a key (or the other way round) is refused', async () => {
    const result = await serve('--tls-cert', pems.cert);
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, /tls_cert and tls_key must be given together/);
  });
});

function httpsGetJson(url: string, ca: string, token: string): Promise<any> {
  return new Promise((resolve, reject) => {
    https
      .get(url, { ca, agent: false, headers: { authorization: `Bearer ${token}` } }, (response) => {
        let body = '';
        response.on('data', (chunk) => (body += chunk));
        response.on('end', () => resolve(JSON.parse(body)));
      })
      .on('error', reject);
  });
}
