import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { SignJWT, decodeJwt } from 'jose';
import { TokenError, Tokens } from './tokens.ts';

const lifetimes = { client: 300, user: 7200, stream: 60 };
const secret = randomBytes(32);
const tokens = new Tokens(secret, lifetimes);

async function rejects(promise: Promise<unknown>, reason: TokenError['reason']) {
  await assert.rejects(promise, (error: unknown) => error instanceof TokenError && error.reason === reason);
}

describe('tokens', () => {
  test('a token verifies as its own kind with its claims', async () => {
    const token = await tokens.issue('user', '7', 'alice', { email: 'alice' });
    const claims = await tokens.verify(token, 'user');
    assert.equal(claims.subject, '7');
    assert.equal(claims.username, 'alice');
    const payload = decodeJwt(token);
    assert.equal(payload.typ, 'user');
    assert.equal(payload.email, 'alice');
    assert.equal((payload.exp ?? 0) - (payload.iat ?? 0), 7200);
  });

  test('a token never verifies as another kind', async () => {
    const user = await tokens.issue('user', '1', 'alice');
    const stream = await tokens.issue('stream', '1', 'alice');
    const client = await tokens.issue('client', 'backend');
    await rejects(tokens.verify(user, 'client'), 'invalid');
    await rejects(tokens.verify(user, 'stream'), 'invalid');
    await rejects(tokens.verify(stream, 'user'), 'invalid');
    await rejects(tokens.verify(client, 'user'), 'invalid');
  });

  test('a token signed with the right key but claiming another kind is refused', async () => {
    const forged = await new SignJWT({ typ: 'client' })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer('flashhub')
      .setSubject('1')
      .setExpirationTime('5m')
      .sign(secret);
    await rejects(tokens.verify(forged, 'user'), 'wrong-kind');
  });

  test('expired tokens are refused as expired', async () => {
    const expired = await new SignJWT({ typ: 'user' })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer('flashhub')
      .setSubject('1')
      .setExpirationTime(Math.floor(Date.now() / 1000) - 10)
      .sign(secret);
    await rejects(tokens.verify(expired, 'user'), 'expired');
  });

  test('a revoked token is refused until it expires', async () => {
    const token = await tokens.issue('user', '5', 'eve');
    const claims = await tokens.verify(token, 'user');
    tokens.revoke(claims);
    await rejects(tokens.verify(token, 'user'), 'invalid');
    const other = await tokens.issue('user', '5', 'eve');
    assert.equal((await tokens.verify(other, 'user')).subject, '5', 'only that token');
  });

  test('a token verified before is still refused once it expires', async () => {
    const shortLived = new Tokens(secret, { ...lifetimes, user: 1 });
    const token = await shortLived.issue('user', '3', 'carol');
    assert.equal((await shortLived.verify(token, 'user')).subject, '3');
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    await rejects(shortLived.verify(token, 'user'), 'expired');
    await rejects(shortLived.verify(token, 'client'), 'invalid');
  });

  test('the verifier is strict: tampering, other algorithms, crit headers, nbf, missing claims', async () => {
    const good = await tokens.issue('user', '1', 'alice');
    const [head, body, sig] = good.split('.') as [string, string, string];
    const tamperedBody = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(body, 'base64url').toString()), sub: '2' })).toString('base64url');
    await rejects(tokens.verify(`${head}.${tamperedBody}.${sig}`, 'user'), 'invalid');
    await rejects(tokens.verify(`${head}.${body}.${sig}x`, 'user'), 'invalid');
    await rejects(tokens.verify(`${head}.${body}`, 'user'), 'invalid');
    await rejects(tokens.verify(`${head}.${body}.${sig}.extra`, 'user'), 'invalid');
    const sign = (header: Record<string, unknown>, claims: Record<string, unknown>) =>
      new SignJWT(claims).setProtectedHeader(header as { alg: string }).sign(secret);
    const base = { typ: 'user', iss: 'flashhub', sub: '1', exp: Math.floor(Date.now() / 1000) + 60 };
    await rejects(tokens.verify(await sign({ alg: 'HS512' }, base), 'user'), 'invalid');
    const critHead = Buffer.from(JSON.stringify({ alg: 'HS256', crit: ['x-extension'], 'x-extension': 1 })).toString('base64url');
    const critBody = Buffer.from(JSON.stringify(base)).toString('base64url');
    const critSig = createHmac('sha256', secret).update(`${critHead}.${critBody}`).digest('base64url');
    await rejects(tokens.verify(`${critHead}.${critBody}.${critSig}`, 'user'), 'invalid');
    await rejects(tokens.verify(await sign({ alg: 'HS256' }, { ...base, nbf: base.exp }), 'user'), 'invalid');
    await rejects(tokens.verify(await sign({ alg: 'HS256' }, { ...base, iss: 'someone-else' }), 'user'), 'invalid');
    const { exp: _, ...noExp } = base;
    await rejects(tokens.verify(await sign({ alg: 'HS256' }, noExp), 'user'), 'invalid');
    assert.equal((await tokens.verify(await sign({ alg: 'HS256' }, base), 'user')).subject, '1', 'a well-formed token of the key verifies');
  });

  test('other keys, algorithms and garbage are refused', async () => {
    const other = new Tokens(randomBytes(32), lifetimes);
    await rejects(tokens.verify(await other.issue('user', '1'), 'user'), 'invalid');
    const none = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from('{"typ":"user","sub":"1","iss":"flashhub","exp":9999999999}').toString('base64url')}.`;
    await rejects(tokens.verify(none, 'user'), 'invalid');
    await rejects(tokens.verify('not a token', 'user'), 'invalid');
  });
});
