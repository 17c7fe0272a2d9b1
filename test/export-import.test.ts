// flashhub export / import end to end, over real processes: a data directory filled through a real
// server's APIs is exported while that server runs and is written to, and again once it stopped;
// each backup is imported into a new store and served from there, the same people log in with the
// same passwords, an old token still works, history pages are the same and unacknowledged
// notifications come back with the same ids. Also file → Redis → file, what import refuses, and how
// it reports a damaged backup.
import assert from 'node:assert/strict';
import { readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runCli, startFlashhub, tempDir, type CliResult } from './support/flashhub.ts';
import { startRedis, type RedisServer } from './support/redis.ts';
import { bearer, call, chatSession, clientSecret, clientToken, dmLogin, fillThroughApis, observe, pendingIds } from './support/store-contents.ts';

const prefix = 'restored:';
/** Commands and servers on a data directory use it even when FLASHHUB_TEST_STORE=redis. */
const onFiles = { env: { FLASHHUB_REDIS_URL: '' } };

const importFile = (file: string, ...target: string[]) => runCli(['import', ...target, '--input', file], { ...onFiles, timeoutMs: 60_000 });

/** The records of a backup, without the header (which says when and from what it was made), fields in one order. */
const records = (backup: string) => backup.trimEnd().split('\n').slice(1).map((line) => canonical(JSON.parse(line)));

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (typeof value !== 'object' || value === null) return JSON.stringify(value);
  const fields = Object.entries(value).sort(([a], [b]) => (a < b ? -1 : 1));
  return `{${fields.map(([key, field]) => `${JSON.stringify(key)}:${canonical(field)}`).join(',')}}`;
}

const noStackTrace = (result: CliResult) => assert.doesNotMatch(result.stderr, /\n\s+at /, result.stderr);

describe('flashhub export and import', () => {
  let redis: RedisServer;
  let scratch: Awaited<ReturnType<typeof tempDir>>;
  let source: string;
  let backupFile: string;
  let aliceToken: string;
  let final: Awaited<ReturnType<typeof observe>>;
  const dir = (name: string) => path.join(scratch.path, name);

  before(async () => {
    redis = await startRedis();
    scratch = await tempDir();
    source = dir('source');
    backupFile = dir('backup.jsonl');
    const added = await runCli(['client', 'add', 'backend', '--secret', clientSecret, '--data', source], onFiles);
    assert.equal(added.code, 0, added.stderr);
  });
  after(async () => {
    await redis?.stop();
    await scratch?.remove();
  });

  test('export while the server runs and is written to: no error, it keeps serving, the backup imports', async () => {
    const server = await startFlashhub(['--demo', '--data', source], onFiles);
    try {
      aliceToken = await fillThroughApis(server);
      const before_ = await observe(server.url, aliceToken);
      const cookie = await chatSession(server.url, 'bob');
      let writing = true;
      let written = 0;
      const writer = (async () => {
        while (writing) {
          assert.equal((await call(server.url, 'POST', '/chat/room/0/messages', { message: `during ${written}` }, { cookie })).status, 201);
          written++;
        }
      })();
      const exported = await runCli(['export', '--data', source], { ...onFiles, timeoutMs: 60_000 });
      writing = false;
      await writer;
      assert.equal(exported.code, 0, exported.stderr);
      assert.match(exported.stderr, new RegExp(`^exported ${source} through the running server in \\d+\\.\\d s: 8 users, 1 clients, .* 5 notifications, 1 secrets\\n$`));
      assert.equal((await fetch(`${server.url}/healthz`)).status, 200, 'the server kept serving');
      assert.equal((await call(server.url, 'POST', '/chat/room/0/messages', { message: 'after' }, { cookie })).status, 201);

      // Each page is read whole: what the backup holds of the writes is the first k of them, none skipped.
      const lines = exported.stdout.trimEnd().split('\n').map((line) => JSON.parse(line));
      assert.equal(lines[0].format, 'flashhub-backup');
      assert.equal(lines.at(-1).kind, 'end');
      const during = lines.filter((l) => l.kind === 'message' && /^during /.test(l.record.text ?? '')).map((l) => l.record.text);
      assert.ok(during.length <= written);
      assert.deepEqual(during, Array.from({ length: during.length }, (_, i) => `during ${i}`));

      const live = dir('backup-live.jsonl');
      await writeFile(live, exported.stdout);
      const imported = await importFile(live, '--data', dir('from-live'));
      assert.equal(imported.code, 0, imported.stderr);
      const copy = await startFlashhub(['--data', dir('from-live')], onFiles);
      try {
        const seen = await observe(copy.url, aliceToken);
        assert.deepEqual(seen.general[2], before_.general[2], 'history below the writes is as it was');
        assert.deepEqual({ dm: seen.dm, users: seen.users, pending: seen.pending }, { dm: before_.dm, users: before_.users, pending: before_.pending });
      } finally {
        assert.equal(await copy.stop(), 0);
      }
      final = await observe(server.url, aliceToken);
    } finally {
      assert.equal(await server.stop(), 0);
    }
  });

  test('round trip from a stopped server: same logins, old token, history pages, pending ids; ids continue', async () => {
    const exported = await runCli(['export', '--data', source, '--output', backupFile], onFiles);
    assert.equal(exported.code, 0, exported.stderr);
    assert.equal(exported.stdout, '');
    assert.match(exported.stderr, new RegExp(`^exported ${source} from the store into ${backupFile} in `));
    assert.equal((await stat(backupFile)).mode & 0o077, 0, 'the backup holds password hashes and the signing key: owner only');

    const restored = dir('restored');
    const imported = await importFile(backupFile, '--data', restored);
    assert.equal(imported.code, 0, imported.stderr);
    assert.match(imported.stdout, new RegExp(`^imported ${backupFile} \\(made by flashhub \\d+\\.\\d+\\.\\d+ at .*\\) into ${restored} in \\d+\\.\\d s\\n`));
    assert.match(imported.stdout, /\n {2}users +8\n/);
    assert.match(imported.stdout, /\n {2}notifications +5\n/);
    assert.match(imported.stdout, /\n {2}secrets +1\n/);
    for (const phase of ['checking', 'users', 'clients', 'groups', 'rooms', 'messages', 'notifications', 'secrets']) {
      assert.match(imported.stderr, new RegExp(`^import: ${phase} \\d+/\\d+ done$`, 'm'), 'plain progress lines when stderr is not a terminal');
    }

    const server = await startFlashhub(['--data', restored], onFiles);
    try {
      await dmLogin(server.url, 'alice');
      assert.equal((await call(server.url, 'POST', '/dm/login', { username: 'alice', password: 'wrong' })).status, 400);
      assert.equal((await call(server.url, 'GET', '/dm/users', undefined, bearer(aliceToken))).status, 200, 'a token issued before the backup');
      assert.deepEqual(await observe(server.url, aliceToken), final);
      const client = await clientToken(server.url);
      assert.equal((await call(server.url, 'POST', '/api/message/notify', { users: ['bob'], payload: 'after' }, bearer(client))).status, 202);
      assert.deepEqual(await pendingIds(server.url, 'bob', 4), [...final.pending.bob, '7'], 'notification ids continue after the old ones');
    } finally {
      assert.equal(await server.stop(), 0);
    }
  });

  test('import refuses a store that holds data, and a data directory a server runs on', async () => {
    const full = await importFile(backupFile, '--data', source);
    assert.equal(full.code, 1);
    assert.match(full.stderr, new RegExp(`^flashhub: ${source} already holds data \\(8 users, .*\\); import into an empty store\\n$`));

    const busy = dir('busy');
    const server = await startFlashhub(['--data', busy], onFiles);
    try {
      const refused = await importFile(backupFile, '--data', busy);
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, new RegExp(`^flashhub: a server is running on ${busy} \\(pid ${server.child.pid}\\); stop it first`));
      assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
      const users = await runCli(['user', 'list', '--json', '--data', busy], onFiles);
      assert.equal(JSON.parse(users.stdout).total, 0, 'nothing was written');
    } finally {
      assert.equal(await server.stop(), 0);
    }
  });

  test('a damaged backup: the line and what is wrong, exit code 1, no stack trace, nothing written', async () => {
    const good = await readFile(backupFile, 'utf8');
    const lines = good.trimEnd().split('\n');
    const edited = (at: number, line: string | undefined) => {
      const copy = [...lines];
      if (line === undefined) copy.splice(at - 1, 1);
      else copy[at - 1] = line;
      return copy.join('\n') + '\n';
    };
    const firstMessage = lines.findIndex((line) => line.startsWith('{"kind":"message"')) + 1;
    const cases: [string, string, RegExp][] = [
      ['the end record is missing', lines.slice(0, -1).join('\n') + '\n', new RegExp(`the backup ends after line ${lines.length - 1} without its end record: it is truncated`)],
      ['cut inside a line', good.slice(0, good.length - 40), new RegExp(`line ${lines.length}: not valid JSON \\(is the file cut off or edited\\?\\)`)],
      ['not JSON', edited(3, '{"kind":"user","record":'), /line 3: not valid JSON/],
      ['a bad field', edited(2, lines[1]!.replace(/"id":\d+/, '"id":"one"')), /line 2: "id" must be a whole number from 1/],
      ['an unknown field', edited(2, lines[1]!.replace('"username"', '"nickname":"x","username"')), /line 2: a user has an unknown field "nickname"/],
      ['an unknown kind', edited(2, '{"kind":"bogus","record":{}}'), /line 2: unknown kind "bogus"/],
      ['out of order', edited(2, lines[lines.length - 2]!), /line 3: a user after a counters: the kinds are out of order/],
      ['a line missing', edited(firstMessage, undefined), /line \d+: the end record does not match the lines before it \(it counts \d+ messages, the file holds \d+\)/],
      ['not a backup', '{"hello":"world"}\n', /line 1: not a flashhub backup/],
      ['empty', '', /the input is empty: no backup in it/],
      ['a newer format', good.replace('"version":1', '"version":2'), /line 1: the backup has format version 2, made by a newer flashhub; this one reads version 1/],
    ];
    const target = dir('damaged-target');
    const damaged = dir('damaged.jsonl');
    for (const [what, text, expected] of cases) {
      await writeFile(damaged, text);
      const result = await importFile(damaged, '--data', target);
      assert.equal(result.code, 1, what);
      assert.match(result.stderr, new RegExp(`^flashhub: ${damaged}: ${expected.source}`), what);
      noStackTrace(result);
    }
    const fromStdin = await runCli(['import', '--data', target], { ...onFiles, input: lines.slice(0, -1).join('\n') + '\n' });
    assert.equal(fromStdin.code, 1);
    assert.match(fromStdin.stderr, /\nflashhub: stdin: the backup ends after line \d+ without its end record: it is truncated\nthe target now holds part of the backup: delete /);
    noStackTrace(fromStdin);

    const intact = dir('intact-target');
    assert.equal((await importFile(damaged, '--data', intact)).code, 1);
    const afterwards = await importFile(backupFile, '--data', intact);
    assert.equal(afterwards.code, 0, `a damaged --input file leaves the target empty: ${afterwards.stderr}`);
  });

  test('file → Redis → file: export and import keep every record', async () => {
    const redisTarget = ['--redis', redis.url, '--redis-prefix', prefix];
    const intoRedis = await importFile(backupFile, ...redisTarget);
    assert.equal(intoRedis.code, 0, intoRedis.stderr);
    assert.match(intoRedis.stdout, new RegExp(`into redis://127\\.0\\.0\\.1:${redis.port} \\(prefix ${prefix}\\) in `));
    const fromRedis = await runCli(['export', ...redisTarget], { timeoutMs: 60_000 });
    assert.equal(fromRedis.code, 0, fromRedis.stderr);
    // Redis lists rooms and histories in its own order; the records are the same.
    assert.deepEqual(records(fromRedis.stdout).sort(), records(await readFile(backupFile, 'utf8')).sort());
    assert.equal(JSON.parse(fromRedis.stdout.slice(0, fromRedis.stdout.indexOf('\n'))).store, 'redis');

    const redisBackup = dir('backup-redis.jsonl');
    await writeFile(redisBackup, fromRedis.stdout);
    const back = dir('back');
    const imported = await importFile(redisBackup, '--data', back);
    assert.equal(imported.code, 0, imported.stderr);
    const nodes: [string[], NodeJS.ProcessEnv][] = [
      [['--data', dir('redis-node'), '--redis', redis.url], { FLASHHUB_REDIS_PREFIX: prefix }],
      [['--data', back], onFiles.env],
    ];
    for (const [args, env] of nodes) {
      const server = await startFlashhub(args, { env });
      try {
        await dmLogin(server.url, 'alice');
        assert.equal((await call(server.url, 'GET', '/dm/users', undefined, bearer(aliceToken))).status, 200, 'a token issued before both moves');
        assert.deepEqual(await observe(server.url, aliceToken), final, args.join(' '));
      } finally {
        assert.equal(await server.stop(), 0);
      }
    }
  });
});
