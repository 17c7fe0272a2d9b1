// The CLI against a running server (through its admin socket) and against a stopped one (the store
// opened directly): the two ways people use it.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runCli, startFlashhub, tempDir, type RunningFlashhub } from './support/flashhub.ts';

const listUsernames = async (data: string) => {
  const result = await runCli(['user', 'list', '--json', '--data', data]);
  assert.equal(result.code, 0, result.stderr);
  return (JSON.parse(result.stdout).items as { username: string }[]).map((u) => u.username);
};

describe('cli basics', () => {
  test('--version prints the version and commit', async () => {
    const result = await runCli(['--version']);
    assert.equal(result.code, 0);
    assert.match(result.stdout, /^flashhub \d+\.\d+\.\d+ \(commit \w+\)\n$/);
  });

  test('--help of every command shows examples', async () => {
    for (const args of [[], ['serve'], ['user'], ['user', 'add'], ['user', 'list'], ['user', 'passwd'], ['client'], ['client', 'add'], ['group'], ['group', 'add'], ['group', 'list'], ['group', 'remove'], ['group', 'members'], ['config'], ['config', 'init'], ['config', 'check'], ['migrate'], ['export'], ['import'], ['token'], ['token', 'user'], ['token', 'verify']]) {
      const result = await runCli([...args, '--help']);
      assert.equal(result.code, 0, args.join(' '));
      assert.match(result.stdout, /Examples?:\n\s+\$ .*flashhub/, args.join(" "));
    }
  });

  test('an unknown command is an error', async () => {
    const result = await runCli(['frobnicate']);
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /unknown command 'frobnicate'/);
  });
});

describe('admin commands with no server running', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  before(async () => (dir = await tempDir()));
  after(() => dir.remove());

  test('user add, list, passwd, remove on the store directly', async () => {
    const added = await runCli(['user', 'add', 'alice', '--name', 'Alice L', '--password', 'wonderland', '--data', dir.path]);
    assert.equal(added.code, 0, added.stderr);
    assert.match(added.stdout, /created user alice \(id 1\)/);
    const table = await runCli(['user', 'list', '--data', dir.path]);
    assert.match(table.stdout, /^ID\s+USERNAME\s+NAME\s+ADMIN\s+PASSWORD\s+CREATED\n1\s+alice\s+Alice L\s+yes\s+\d{4}-/m);
    const passwd = await runCli(['user', 'passwd', 'alice', '--password-stdin', '--data', dir.path], { input: 'looking-glass\n' });
    assert.equal(passwd.code, 0, passwd.stderr);
    const removed = await runCli(['user', 'remove', 'alice', '--data', dir.path]);
    assert.equal(removed.code, 0, removed.stderr);
    assert.deepEqual(await listUsernames(dir.path), []);
  });

  test('errors are clear and exit non-zero', async () => {
    await runCli(['user', 'add', 'bob', '--data', dir.path]);
    const duplicate = await runCli(['user', 'add', 'BOB', '--data', dir.path]);
    assert.equal(duplicate.code, 1);
    assert.equal(duplicate.stderr, 'flashhub: user BOB already exists\n');
    const invalid = await runCli(['user', 'add', 'no spaces', '--data', dir.path]);
    assert.equal(invalid.code, 1);
    assert.match(invalid.stderr, /a username has 1 to 64 letters/);
    const missing = await runCli(['user', 'remove', 'nobody', '--data', dir.path]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no user nobody/);
    const both = await runCli(['user', 'add', 'carol', '--password', 'x', '--password-stdin', '--data', dir.path]);
    assert.match(both.stderr, /either --password or --password-stdin/);
  });
});

describe('admin commands while a server runs on the data directory', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let server: RunningFlashhub;
  before(async () => {
    dir = await tempDir();
    server = await startFlashhub(['--data', dir.path]);
  });
  after(async () => {
    await server.stop();
    await dir.remove();
  });

  test('user add and user list go through the server', async () => {
    const added = await runCli(['user', 'add', 'alice', '--password', 'x1y2z3', '--data', dir.path]);
    assert.equal(added.code, 0, added.stderr);
    assert.deepEqual(await listUsernames(dir.path), ['alice']);
    assert.ok(server.logs.some((line) => line.event === 'admin.command' && line.op === 'user.add'), 'the server ran it');
    assert.ok(!JSON.stringify(server.logs).includes('x1y2z3'), 'the password is not logged');
  });

  test('passwords are stored as scrypt hashes only', async () => {
    await runCli(['user', 'add', 'dora', '--password-stdin', '--data', dir.path], { input: 'explorer-secret\n' });
    const meta = await readFile(path.join(dir.path, 'meta.json'), 'utf8');
    assert.ok(!meta.includes('explorer-secret'));
    assert.match(meta, /scrypt\$/);
  });

  test('client add generates a secret and prints it once; list and remove', async () => {
    const added = await runCli(['client', 'add', 'billing', '--data', dir.path]);
    assert.equal(added.code, 0, added.stderr);
    const secret = /client_secret: (\S+)/.exec(added.stdout)?.[1];
    assert.ok(secret && secret.length >= 32);
    const meta = await readFile(path.join(dir.path, 'meta.json'), 'utf8');
    assert.ok(!meta.includes(secret), 'only the hash is stored');
    const listed = await runCli(['client', 'list', '--json', '--data', dir.path]);
    assert.deepEqual(JSON.parse(listed.stdout).map((c: { clientId: string }) => c.clientId), ['billing']);
    assert.ok(!listed.stdout.includes(secret));
    const given = await runCli(['client', 'add', 'crm', '--secret', 'a-long-enough-secret', '--data', dir.path]);
    assert.doesNotMatch(given.stdout, /client_secret/);
    assert.equal((await runCli(['client', 'remove', 'billing', '--data', dir.path])).code, 0);
    const after = await runCli(['client', 'list', '--json', '--data', dir.path]);
    assert.deepEqual(JSON.parse(after.stdout).map((c: { clientId: string }) => c.clientId), ['crm']);
  });

  test('user passwd and user remove go through the server', async () => {
    await runCli(['user', 'add', 'erin', '--data', dir.path]);
    const passwd = await runCli(['user', 'passwd', 'erin', '--password', 'new-pass', '--data', dir.path]);
    assert.equal(passwd.code, 0, passwd.stderr);
    const listed = JSON.parse((await runCli(['user', 'list', '--json', '--data', dir.path])).stdout).items as { username: string; hasPassword: boolean }[];
    assert.equal(listed.find((u) => u.username === 'erin')?.hasPassword, true);
    assert.equal((await runCli(['user', 'remove', 'erin', '--data', dir.path])).code, 0);
    assert.ok(!(await listUsernames(dir.path)).includes('erin'));
  });

  test('what the server wrote survives its restart', async () => {
    assert.equal(await server.stop(), 0);
    assert.ok((await listUsernames(dir.path)).includes('alice'), 'readable with the server stopped');
    server = await startFlashhub(['--data', dir.path]);
    assert.ok((await listUsernames(dir.path)).includes('dora'));
  });
});

describe('flashhub config', () => {
  test('prints the effective configuration with sources, secrets redacted', async () => {
    const dir = await tempDir();
    try {
      const result = await runCli(['config', '--json'], {
        cwd: dir.path,
        env: { JWT_KEY: 'q'.repeat(40), FLASHHUB_PORT: '9001', FLASHHUB_DEMO: '1' },
      });
      assert.equal(result.code, 0, result.stderr);
      const shown = JSON.parse(result.stdout);
      const byKey = Object.fromEntries(shown.settings.map((s: { key: string }) => [s.key, s]));
      assert.deepEqual(byKey.port, { key: 'port', value: 9001, source: 'environment FLASHHUB_PORT', describe: byKey.port.describe });
      assert.equal(byKey.jwt_secret.value, '[redacted]');
      assert.equal(byKey.jwt_secret.source, 'environment JWT_KEY');
      assert.deepEqual(shown.insecure, ['open_login', 'allow_user_id_param']);
      assert.ok(!result.stdout.includes('q'.repeat(40)));
      const table = await runCli(['config'], { cwd: dir.path });
      assert.match(table.stdout, /^port\s+8080\s+default$/m);
    } finally {
      await dir.remove();
    }
  });
});

describe('--demo', () => {
  test("loads the seeds' users, rooms and messages once", async () => {
    const dir = await tempDir();
    try {
      for (let run = 0; run < 2; run++) {
        const server = await startFlashhub(['--data', dir.path, '--demo']);
        assert.ok(server.logs.some((line) => line.event === 'server.demo_mode' && line.level === 'warn'));
        assert.ok(server.logs.some((line) => line.event === 'server.insecure_switch' && line.setting === 'open_login'));
        assert.equal(await server.stop(), 0);
      }
      const users = JSON.parse((await runCli(['user', 'list', '--json', '--data', dir.path])).stdout).items as {
        id: number;
        username: string;
        hasPassword: boolean;
      }[];
      assert.deepEqual(
        users.map((u) => [u.id, u.username, u.hasPassword]),
        [
          [1, 'Adam', false],
          [2, 'Kyle', false],
          [3, 'Taylor', false],
          [4, 'user@volunteer-vision.com', true],
          [5, 'client@volunteer-vision.com', true],
          [6, 'service@volunteer-vision.com', true],
        ],
      );
      const { FileStore } = await import('../src/store/file/file-store.ts');
      const { Directory } = await import('../src/core/directory.ts');
      const store = await FileStore.open({ dir: dir.path });
      try {
        assert.equal(await store.messages.count('0'), 5, 'General holds five messages, not ten');
        for (const room of ['1:2', '1:3', '2:3']) {
          assert.equal((await store.meta.getRoom(room))?.kind, 'private');
          assert.equal(await store.messages.count(room), 2);
        }
        const directory = new Directory(store);
        assert.equal((await directory.authenticate('client@volunteer-vision.com', 'start123'))?.id, 5);
        assert.equal(await directory.authenticate('client@volunteer-vision.com', 'start124'), undefined);
      } finally {
        await store.close();
      }
    } finally {
      await dir.remove();
    }
  });
});
