// flashhub migrate end to end: a data directory filled through a real server's APIs, moved into a
// real Redis and served from there, then moved back into a new directory and served from that.
// After each move the same people log in with the same passwords, an old token still works, history
// pages are the same, and unacknowledged notifications come back with the same ids. Also what the
// command refuses: a data directory a server holds, a target that holds data.
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runCli, startFlashhub, tempDir, type RunningFlashhub } from './support/flashhub.ts';
import { startRedis, type RedisServer } from './support/redis.ts';
import { bearer, call, clientSecret, clientToken, dmLogin, fillThroughApis, observe, pendingIds } from './support/store-contents.ts';

const prefix = 'moved:';
/** Commands and servers on a data directory use it even when FLASHHUB_TEST_STORE=redis. */
const onFiles = { env: { FLASHHUB_REDIS_URL: '' } };

async function migrate(from: string, to: string, env = onFiles.env) {
  return runCli(['migrate', '--from', from, '--to', to, '--redis-prefix', prefix], { env, timeoutMs: 60_000 });
}

describe('flashhub migrate', () => {
  let redis: RedisServer;
  let source: Awaited<ReturnType<typeof tempDir>>;
  let scratch: Awaited<ReturnType<typeof tempDir>>;
  let aliceToken: string;
  let before_: Awaited<ReturnType<typeof observe>>;

  before(async () => {
    redis = await startRedis();
    source = await tempDir();
    scratch = await tempDir();
    const added = await runCli(['client', 'add', 'backend', '--secret', clientSecret, '--data', source.path], onFiles);
    assert.equal(added.code, 0, added.stderr);
  });
  after(async () => {
    await redis?.stop();
    await source?.remove();
    await scratch?.remove();
  });

  test('--help has examples', async () => {
    const help = await runCli(['migrate', '--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /Examples?:\n\s+\$ .*flashhub migrate/);
  });

  test('a data directory a running server holds is refused; fill it through the APIs meanwhile', async () => {
    const server = await startFlashhub(['--demo', '--data', source.path], onFiles);
    try {
      const base = server.url;
      aliceToken = await fillThroughApis(server);
      before_ = await observe(base, aliceToken);
      assert.equal(before_.general[0].length, 15);

      const refused = await migrate(source.path, redis.url);
      assert.notEqual(refused.code, 0);
      assert.match(refused.stderr, /in use by flashhub process \d+/);
      assert.match(refused.stderr, /stop the server first/);
    } finally {
      assert.equal(await server.stop(), 0);
    }
  });

  test('into Redis: same logins, old token, history pages and pending notification ids; new ids continue', async () => {
    const moved = await migrate(source.path, redis.url);
    assert.equal(moved.code, 0, moved.stderr);
    assert.match(moved.stdout, new RegExp(`^migrated ${source.path} to redis://127\\.0\\.0\\.1:\\d+ \\(prefix ${prefix}\\) in \\d+\\.\\d s\\n`));
    assert.match(moved.stdout, /\n {2}users +8\n/);
    assert.match(moved.stdout, /\n {2}messages +\d+ \(in \d+ room histories\)\n/);
    assert.match(moved.stdout, /\n {2}notifications +5\n/);
    assert.match(moved.stdout, /\n {2}secrets +1\n/);
    for (const phase of ['users', 'clients', 'groups', 'rooms', 'messages', 'notifications', 'secrets']) {
      assert.match(moved.stderr, new RegExp(`^migrate: ${phase} \\d+/\\d+ done$`, 'm'), 'plain progress lines when stderr is not a terminal');
    }

    const data = await tempDir();
    const server = await startFlashhub(['--redis', redis.url, '--data', data.path], { env: { FLASHHUB_REDIS_PREFIX: prefix } });
    try {
      assert.equal(server.logs.find((l) => l.event === 'server.started')?.store, 'redis');
      await dmLogin(server.url, 'alice');
      assert.equal((await call(server.url, 'POST', '/dm/login', { username: 'alice', password: 'wrong' })).status, 400);
      assert.equal((await call(server.url, 'GET', '/dm/users', undefined, bearer(aliceToken))).status, 200, 'a token issued before the move');
      assert.deepEqual(await observe(server.url, aliceToken), before_);
      const client = await clientToken(server.url);
      assert.equal((await call(server.url, 'POST', '/api/message/notify', { users: ['bob'], payload: 'after' }, bearer(client))).status, 202);
      assert.deepEqual(await pendingIds(server.url, 'bob', 4), [...before_.pending.bob, '7'], 'notification ids continue after the old ones');
    } finally {
      assert.equal(await server.stop(), 0);
      await data.remove();
    }
  });

  test('a target that holds data is refused, Redis or directory', async () => {
    const intoRedis = await migrate(source.path, redis.url);
    assert.equal(intoRedis.code, 1);
    assert.match(intoRedis.stderr, new RegExp(`redis://127\\.0\\.0\\.1:\\d+ \\(prefix ${prefix}\\) already holds data \\(\\d+ users, .*\\); migrate into an empty store`));
    const intoDir = await migrate(redis.url, source.path);
    assert.equal(intoDir.code, 1);
    assert.match(intoDir.stderr, /already holds data/);
    const foreign = path.join(scratch.path, 'foreign');
    await mkdir(foreign);
    await writeFile(path.join(foreign, 'notes.txt'), 'mine');
    const intoForeign = await migrate(redis.url, foreign);
    assert.equal(intoForeign.code, 1);
    assert.match(intoForeign.stderr, /is not empty and is not a flashhub data directory/);
    const nothing = await runCli(['migrate', '--from', redis.url, '--to', path.join(scratch.path, 'x'), '--redis-prefix', 'nothing-here:'], onFiles);
    assert.equal(nothing.code, 1);
    assert.match(nothing.stderr, /nothing to migrate: .* holds no data \(is --redis-prefix right\?\)/);
  });

  test('back from Redis into a new directory: the same again', async () => {
    const back = path.join(scratch.path, 'back');
    const moved = await migrate(redis.url, back);
    assert.equal(moved.code, 0, moved.stderr);
    assert.match(moved.stdout, /\n {2}users +8\n/);
    assert.match(moved.stdout, /\n {2}notifications +6\n/);
    const server = await startFlashhub(['--data', back], onFiles);
    try {
      assert.equal(server.logs.find((l) => l.event === 'server.started')?.store, 'file');
      await dmLogin(server.url, 'alice');
      assert.equal((await call(server.url, 'GET', '/dm/users', undefined, bearer(aliceToken))).status, 200, 'a token issued before both moves');
      assert.deepEqual(await observe(server.url, aliceToken), before_);
      assert.deepEqual(await pendingIds(server.url, 'bob', 4), [...before_.pending.bob, '7']);
    } finally {
      assert.equal(await server.stop(), 0);
    }
  });

  test('a password in a Redis URL never shows', async () => {
    const result = await runCli(['migrate', '--from', source.path, '--to', 'redis://:hunter2@127.0.0.1:1/0'], onFiles);
    assert.equal(result.code, 1);
    assert.doesNotMatch(result.stderr + result.stdout, /hunter2/);
    assert.match(result.stderr, /cannot open redis:\/\/\*\*\*@127\.0\.0\.1:1\/0/);
  });
});
