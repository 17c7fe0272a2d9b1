// flashhub token user|verify: minting through a running server's admin socket and on a stopped store,
// the minted tokens on real endpoints, and what verify says of good, expired and forged tokens.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { SignJWT } from 'jose';
import { runCli, signingKey, startFlashhub, tempDir, type RunningFlashhub } from './support/flashhub.ts';

type Dir = Awaited<ReturnType<typeof tempDir>>;

async function ok(args: string[], data: string): Promise<string> {
  const result = await runCli([...args, '--data', data]);
  assert.equal(result.code, 0, `${args.join(' ')}: ${result.stderr}`);
  return result.stdout;
}

const claimsOf = (jwt: string) => JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;

/** GET /dm/users with the token as Bearer: 200 for a good user token. */
const dmUsers = (server: RunningFlashhub, token: string) => fetch(`${server.url}/dm/users`, { headers: { authorization: `Bearer ${token}` } });

/** Opens /notify/sse?token= and closes it again; the status and content type of the answer. */
async function openStream(server: RunningFlashhub, token: string): Promise<{ status: number; type: string | null }> {
  const controller = new AbortController();
  const response = await fetch(`${server.url}/notify/sse?token=${encodeURIComponent(token)}`, { signal: controller.signal });
  const answer = { status: response.status, type: response.headers.get('content-type') };
  controller.abort();
  await response.body?.cancel().catch(() => {});
  return answer;
}

/** A token signed with `key` as flashhub signs user tokens, issued and expiring at the given times. */
const handMade = (key: Uint8Array, iat: number, exp: number) =>
  new SignJWT({ typ: 'user', name: 'alice' }).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).setIssuer('flashhub').setSubject('1').setIssuedAt(iat).setExpirationTime(exp).setJti('hand-made').sign(key);

describe('token with a server running (admin socket)', () => {
  let dir: Dir;
  let server: RunningFlashhub;
  before(async () => {
    dir = await tempDir();
    server = await startFlashhub(['--data', dir.path]);
    await ok(['user', 'add', 'alice', '--password', 'wonderland'], dir.path);
  });
  after(async () => {
    await server?.stop();
    await dir?.remove();
  });
  const ran = (op: string) => server.logs.some((line) => line.event === 'admin.command' && line.op === op);

  test('token user prints a user token that the dm hub accepts', async () => {
    const token = (await ok(['token', 'user', 'alice'], dir.path)).trim();
    assert.ok(ran('token.issue'), 'the server signed it');
    assert.match(token, /^[\w-]+\.[\w-]+\.[\w-]+$/);
    const claims = claimsOf(token);
    assert.equal(claims.typ, 'user');
    assert.equal(claims.name, 'alice');
    assert.equal((claims.exp as number) - (claims.iat as number), 7200, 'the configured user_token_ttl');
    const response = await dmUsers(server, token);
    assert.equal(response.status, 200, await response.clone().text());
    assert.deepEqual(((await response.json()) as { content: unknown }).content, [{ name: 'alice', username: 'alice' }]);
  });

  test('a stream token opens /notify/sse; a user token does not', async () => {
    const out = JSON.parse(await ok(['token', 'user', 'alice', '--kind', 'stream', '--json'], dir.path)) as { token: string; kind: string; expiresAt: string };
    assert.equal(out.kind, 'stream');
    assert.equal(Date.parse(out.expiresAt) / 1000, claimsOf(out.token).exp);
    assert.equal((claimsOf(out.token).exp as number) - (claimsOf(out.token).iat as number), 300, 'the configured stream_token_ttl');
    const stream = await openStream(server, out.token);
    assert.equal(stream.status, 200);
    assert.match(stream.type ?? '', /text\/event-stream/);
    const user = (await ok(['token', 'user', 'alice'], dir.path)).trim();
    assert.equal((await openStream(server, user)).status, 401);
  });

  test('--ttl 60 gives a token that lives 60 s; out-of-range ttls are refused', async () => {
    const token = (await ok(['token', 'user', 'alice', '--ttl', '60'], dir.path)).trim();
    const claims = claimsOf(token);
    assert.equal((claims.exp as number) - (claims.iat as number), 60);
    for (const args of [['--ttl', '59'], ['--ttl', String(30 * 86400 + 1)], ['--kind', 'stream', '--ttl', '4'], ['--ttl', 'soon']]) {
      const result = await runCli(['token', 'user', 'alice', ...args, '--data', dir.path]);
      assert.equal(result.code, 1, args.join(' '));
      assert.equal(result.stdout, '');
      assert.match(result.stderr, /^flashhub: .*(ttl|seconds)/);
    }
  });

  test('verify explains a valid token and exits 0', async () => {
    const token = (await ok(['token', 'user', 'alice', '--ttl', '600'], dir.path)).trim();
    const result = await runCli(['token', 'verify', token, '--data', dir.path]);
    assert.equal(result.code, 0, result.stderr);
    assert.ok(ran('token.verify'), 'the server checked it');
    assert.match(result.stdout, /^valid:\s+yes$/m);
    assert.match(result.stdout, /^kind:\s+user$/m);
    assert.match(result.stdout, /^subject:\s+user 1 \(alice\)$/m);
    assert.match(result.stdout, /^issued:\s+\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/m);
    assert.match(result.stdout, /^expires:\s+\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \(in \d+ min\)$/m);
    const json = JSON.parse((await runCli(['token', 'verify', token, '--json', '--data', dir.path])).stdout);
    assert.equal(json.valid, true);
    assert.deepEqual(json.user, { id: 1, username: 'alice' });
    assert.equal(Date.parse(json.expiresAt) - Date.parse(json.issuedAt), 600_000);
  });

  test('verify says expired, bad signature or wrong format, and exits 1', async () => {
    const key = await signingKey(dir.path);
    const now = Math.floor(Date.now() / 1000);
    const expired = await runCli(['token', 'verify', await handMade(key, now - 3600, now - 60), '--data', dir.path]);
    assert.equal(expired.code, 1);
    assert.match(expired.stdout, /^valid:\s+no: expired$/m);
    assert.match(expired.stdout, /^subject:\s+user 1 \(alice\)$/m);
    assert.match(expired.stdout, /^expires:.*\(\d+ s ago\)$/m);

    const forged = await runCli(['token', 'verify', await handMade(randomBytes(32), now, now + 600), '--data', dir.path]);
    assert.equal(forged.code, 1);
    assert.match(forged.stdout, /^valid:\s+no: bad signature/m);
    assert.match(forged.stdout, /^kind:\s+user \(unverified\)$/m);

    const garbage = await runCli(['token', 'verify', 'not-a-jwt', '--data', dir.path]);
    assert.equal(garbage.code, 1);
    assert.match(garbage.stdout, /^valid:\s+no: wrong format/m);

    for (const result of [expired, forged, garbage]) {
      assert.ok(!result.stdout.includes(Buffer.from(key).toString('base64url')) && !result.stdout.includes(Buffer.from(key).toString('hex')), 'never the key');
    }
  });

  test('an unknown user is refused', async () => {
    const result = await runCli(['token', 'user', 'nobody', '--data', dir.path]);
    assert.equal(result.code, 1);
    assert.equal(result.stdout, '');
    assert.equal(result.stderr, 'flashhub: no user nobody\n');
  });
});

describe('token with no server running (the store opened directly)', () => {
  let dir: Dir;
  before(async () => {
    dir = await tempDir();
    await ok(['user', 'add', 'bob'], dir.path);
  });
  after(() => dir?.remove());

  test('mints with the store key: a server started later accepts the tokens', async () => {
    const user = (await ok(['token', 'user', 'bob', '--ttl', '60'], dir.path)).trim();
    assert.equal((claimsOf(user).exp as number) - (claimsOf(user).iat as number), 60);
    const stream = (await ok(['token', 'user', 'bob', '--kind', 'stream'], dir.path)).trim();
    const verified = await runCli(['token', 'verify', user, '--data', dir.path]);
    assert.equal(verified.code, 0, verified.stdout + verified.stderr);
    assert.match(verified.stdout, /^subject:\s+user 1 \(bob\)$/m);

    const server = await startFlashhub(['--data', dir.path]);
    try {
      assert.equal((await dmUsers(server, user)).status, 200);
      assert.equal((await openStream(server, stream)).status, 200);
    } finally {
      await server.stop();
    }
  });

  test('unknown users and foreign tokens are refused', async () => {
    const unknown = await runCli(['token', 'user', 'carol', '--data', dir.path]);
    assert.equal(unknown.code, 1);
    assert.equal(unknown.stderr, 'flashhub: no user carol\n');
    const now = Math.floor(Date.now() / 1000);
    const forged = await runCli(['token', 'verify', await handMade(randomBytes(32), now, now + 600), '--data', dir.path]);
    assert.equal(forged.code, 1);
    assert.match(forged.stdout, /^valid:\s+no: bad signature/m);
  });

  test('a token whose user was removed is no longer valid', async () => {
    await ok(['user', 'add', 'dave'], dir.path);
    const token = (await ok(['token', 'user', 'dave'], dir.path)).trim();
    await ok(['user', 'remove', 'dave'], dir.path);
    const result = await runCli(['token', 'verify', token, '--data', dir.path]);
    assert.equal(result.code, 1);
    assert.match(result.stdout, /^valid:\s+no: its user \(id \d+\) no longer exists$/m);
  });
});
