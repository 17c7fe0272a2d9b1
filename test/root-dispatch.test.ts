// The two root paths that chat and dm share, settled by content (DESIGN.md §3), and the override.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { runCli, startFlashhub, tempDir, type RunningFlashhub } from './support/flashhub.ts';

describe('root dispatch between chat and dm', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let server: RunningFlashhub;
  before(async () => {
    dir = await tempDir();
    server = await startFlashhub(['--data', dir.path, '--demo']);
    // After the demo's six users, through the running server: zoe is user 7.
    await runCli(['user', 'add', 'zoe', '--password', 'zoe-pass', '--data', dir.path]);
  });
  after(async () => {
    await server.stop();
    await dir.remove();
  });

  const post = async (body: unknown, headers: Record<string, string> = {}) => {
    const response = await fetch(`${server.url}/login`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
    return { status: response.status, json: (await response.json()) as any };
  };

  test('POST /login with a password is dm, without one is chat', async () => {
    const dm = await post({ username: 'zoe', password: 'zoe-pass' });
    assert.equal(dm.json.code, '200');
    assert.match(dm.json.content.token, /^ey/);
    const chat = await post({ username: 'Adam' });
    assert.deepEqual(chat.json, { id: '1', username: 'Adam' });
  });

  test('X-Flashhub-Hub overrides the content rule', async () => {
    const chatWithPassword = await post({ username: 'zoe', password: 'zoe-pass' }, { 'x-flashhub-hub': 'chat' });
    assert.deepEqual(chatWithPassword.json, { id: '7', username: 'zoe' });
    const dmWithout = await post({ username: 'Adam' }, { 'x-flashhub-hub': 'dm' });
    assert.equal(dmWithout.status, 422, 'dm needs a password');
    assert.equal(dmWithout.json.code, '422');
  });

  test('GET /users with ids is chat, otherwise dm', async () => {
    const chat = await fetch(`${server.url}/users?ids[]=1`);
    assert.deepEqual(await chat.json(), { 1: { id: '1', username: 'Adam', online: true } });
    const dmNoToken = await fetch(`${server.url}/users`);
    assert.deepEqual([dmNoToken.status, await dmNoToken.json()], [401, { code: '401', message: 'Authorization header is required', content: null }]);
    const token = (await post({ username: 'zoe', password: 'zoe-pass' })).json.content.token;
    const dm = await fetch(`${server.url}/users`, { headers: { authorization: `Bearer ${token}` } });
    const listed = ((await dm.json()) as any).content.map((u: { username: string }) => u.username);
    assert.ok(listed.includes('zoe') && listed.includes('Adam'));
  });

  test('GET /login is always chat', async () => {
    const response = await fetch(`${server.url}/login?username=Kyle`);
    assert.deepEqual(await response.json(), { id: '2', username: 'Kyle' });
  });
});
