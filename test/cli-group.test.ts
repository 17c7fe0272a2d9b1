// flashhub group add|list|remove|members, through a running server's admin socket and on a stopped
// store, and what notify then sees of the groups.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { runCli, startFlashhub, tempDir, type RunningFlashhub } from './support/flashhub.ts';

type Dir = Awaited<ReturnType<typeof tempDir>>;

async function ok(args: string[], data: string): Promise<string> {
  const result = await runCli([...args, '--data', data]);
  assert.equal(result.code, 0, `${args.join(' ')}: ${result.stderr}`);
  return result.stdout;
}

async function refused(args: string[], data: string, message: RegExp): Promise<void> {
  const result = await runCli([...args, '--data', data]);
  assert.equal(result.code, 1, `${args.join(' ')} should fail`);
  assert.match(result.stderr, message);
  assert.equal(result.stdout, '');
}

const groupIds = async (data: string) => (JSON.parse(await ok(['group', 'list', '--json'], data)).items as { id: string }[]).map((g) => g.id);
const members = async (data: string, id: string) => JSON.parse(await ok(['group', 'members', id, '--json'], data)).members as string[];
const usernames = async (data: string) => (JSON.parse(await ok(['user', 'list', '--json'], data)).items as { username: string }[]).map((u) => u.username);

/** The same checks with and without a server; `ran` says whether the server ran an operation. */
function groupCommands(setup: () => { data: string; ran?: (op: string) => boolean }) {
  test('add with members, list, members', async () => {
    const { data, ran } = setup();
    await ok(['user', 'add', 'alice'], data);
    await ok(['user', 'add', 'bob'], data);
    await ok(['user', 'add', 'carol'], data);
    assert.equal(await ok(['group', 'add', 'g1', '--members', 'alice,bob'], data), 'created group g1 with 2 members: alice, bob\n');
    assert.equal(await ok(['group', 'add', 'empty'], data), 'created group empty with 0 members\n');
    assert.deepEqual((await groupIds(data)).sort(), ['empty', 'g1']);
    assert.match(await ok(['group', 'list'], data), /^GROUP_ID\s+MEMBERS\s+CREATED\n(.*\n)*g1\s+2\s+\d{4}-/m);
    assert.equal(await ok(['group', 'members', 'g1'], data), 'alice\nbob\n');
    if (ran) assert.ok(ran('group.add') && ran('group.members') && ran('group.list'), 'the server ran them');
  });

  test('members --add and --remove', async () => {
    const { data } = setup();
    assert.equal(await ok(['group', 'members', 'g1', '--add', 'carol', '--remove', 'alice'], data), 'bob\ncarol\n');
    await ok(['group', 'members', 'g1', '--add', 'alice'], data);
    assert.deepEqual(await members(data, 'g1'), ['bob', 'carol', 'alice']);
  });

  test('refusals exit 1 with a clear message and change nothing', async () => {
    const { data } = setup();
    await refused(['group', 'add', 'bad id'], data, /^flashhub: Group id has letters, digits or \._:@\+- and starts with a letter or digit\n$/);
    await refused(['group', 'add', 'x'.repeat(101)], data, /^flashhub: Group id has at most 100 characters\n$/);
    await refused(['group', 'add', 'g2', '--members', 'alice,zed'], data, /^flashhub: no user zed\n$/);
    await refused(['group', 'add', 'g1', '--members', 'alice'], data, /^flashhub: group g1 already exists\n$/);
    await refused(['group', 'members', 'g1', '--add', 'dave', '--remove', 'bob'], data, /^flashhub: no user dave\n$/);
    await refused(['group', 'members', 'empty', '--remove', 'alice'], data, /^flashhub: alice is not a member of group empty\n$/);
    await refused(['group', 'members', 'nope'], data, /^flashhub: no group nope\n$/);
    await refused(['group', 'remove', 'nope'], data, /^flashhub: no group nope\n$/);
    assert.deepEqual((await groupIds(data)).sort(), ['empty', 'g1']);
    assert.deepEqual(await members(data, 'g1'), ['bob', 'carol', 'alice']);
    assert.deepEqual(await members(data, 'empty'), []);
    assert.deepEqual(await usernames(data), ['alice', 'bob', 'carol'], 'no user was created');
  });

  test('remove', async () => {
    const { data } = setup();
    assert.equal(await ok(['group', 'remove', 'empty'], data), 'removed group empty\n');
    assert.deepEqual(await groupIds(data), ['g1']);
    assert.deepEqual(await usernames(data), ['alice', 'bob', 'carol'], 'members stay users');
  });
}

describe('flashhub group with no server running', () => {
  let dir: Dir;
  before(async () => (dir = await tempDir()));
  after(() => dir.remove());
  groupCommands(() => ({ data: dir.path }));
});

describe('flashhub group while a server runs', () => {
  let dir: Dir;
  let server: RunningFlashhub;
  before(async () => {
    dir = await tempDir();
    server = await startFlashhub(['--data', dir.path]);
  });
  after(async () => {
    await server.stop();
    await dir.remove();
  });
  groupCommands(() => ({ data: dir.path, ran: (op) => server.logs.some((line) => line.event === 'admin.command' && line.op === op) }));

  test('notify sees the groups the CLI made', async () => {
    await ok(['client', 'add', 'backend', '--secret', 'a-long-enough-secret'], dir.path);
    const call = async (method: string, route: string, body?: unknown, token?: string) => {
      const response = await fetch(`${server.url}${route}`, {
        method,
        headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return { status: response.status, json: (await response.json()) as Record<string, unknown> };
    };
    const auth = await call('POST', '/api/auth/token', { client_id: 'backend', client_secret: 'a-long-enough-secret' });
    assert.equal(auth.status, 200, JSON.stringify(auth.json));
    const token = auth.json.access_token as string;
    await ok(['group', 'add', 'team', '--members', 'alice,bob'], dir.path);
    const group = await call('GET', '/notify/api/group/team', undefined, token);
    assert.deepEqual([group.status, group.json], [200, { group_id: 'team', users: ['alice', 'bob'] }]);
    const sent = await call('POST', '/api/message/notify', { groups: ['team'], payload: { text: 'hello team' } }, token);
    assert.deepEqual([sent.status, sent.json], [202, { recipients: 2 }]);
    await ok(['group', 'remove', 'team'], dir.path);
    assert.equal((await call('GET', '/notify/api/group/team', undefined, token)).status, 404);
  });

  test('user add --admin goes through the server and makes an admin', async () => {
    const added = await runCli(['user', 'add', 'root', '--admin', '--password', 'r00t-pass', '--data', dir.path]);
    assert.equal(added.code, 0, added.stderr);
    assert.ok(server.logs.some((line) => line.event === 'admin.command' && line.op === 'user.add'));
    const users = JSON.parse(await ok(['user', 'list', '--json'], dir.path)).items as { username: string; admin: boolean }[];
    assert.equal(users.find((u) => u.username === 'root')?.admin, true);
    assert.equal(users.find((u) => u.username === 'alice')?.admin, false);
  });
});
