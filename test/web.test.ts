// The web console in real Chromium (Debian's chromium, driven by playwright-core): two people chat in
// General and in a private room, a notification sent through the API appears and is acknowledged,
// and the admin view shows live connection counts. Screenshots go to test-artifacts/.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { runCli, startFlashhub, tempDir, type RunningFlashhub } from './support/flashhub.ts';

// The page's own globals, for the functions that run inside the page (no DOM types in this project).
declare const document: any;

const chromiumPath = process.env.FLASHHUB_CHROMIUM ?? '/usr/bin/chromium';
const artifacts = fileURLToPath(new URL('../test-artifacts/', import.meta.url));
const clientSecret = 'console-test-secret-0123';

describe('web console in Chromium', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let server: RunningFlashhub;
  let browser: Browser;

  before(async () => {
    assert.ok(existsSync(chromiumPath), `Chromium is needed at ${chromiumPath} (apt-get install chromium; .ci/run installs it)`);
    await mkdir(artifacts, { recursive: true });
    dir = await tempDir();
    for (const [name, extra] of [['alice', []], ['bob', []], ['root', ['--admin']]] as const) {
      const added = await runCli(['user', 'add', name, '--password', `${name}-password`, ...extra, '--data', dir.path]);
      assert.equal(added.code, 0, added.stderr);
    }
    await runCli(['client', 'add', 'backend', '--secret', clientSecret, '--data', dir.path]);
    server = await startFlashhub(['--data', dir.path]);
    browser = await chromium.launch({
      executablePath: chromiumPath,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
    await dir?.remove();
  });

  async function logIn(name: string, viewport = { width: 1100, height: 750 }): Promise<Page> {
    const context = await browser.newContext({ viewport });
    const page = await context.newPage();
    await page.goto(`${server.url}/`);
    assert.equal(new URL(page.url()).pathname, '/ui/', 'browsers opening / are sent to the console');
    await page.fill('#login-form input[name=username]', name);
    await page.fill('#login-form input[name=password]', `${name}-password`);
    await page.click('#login-form button[type=submit]');
    await page.waitForSelector('#app:not([hidden])');
    await page.waitForFunction(() => document.querySelector('#room-title')?.textContent === 'General');
    return page;
  }

  const messageTexts = (page: Page): Promise<string[]> =>
    page.evaluate(() => [...document.querySelectorAll('#messages li')].map((li: any) => li.lastChild?.textContent ?? ''));

  test('a wrong password is refused on the login form', async () => {
    const page = await (await browser.newContext()).newPage();
    await page.goto(`${server.url}/ui/`);
    await page.fill('#login-form input[name=username]', 'alice');
    await page.fill('#login-form input[name=password]', 'not-it');
    await page.click('#login-form button[type=submit]');
    await page.waitForFunction(() => document.querySelector('#login-error')?.textContent !== '');
    assert.equal(await page.textContent('#login-error'), 'Invalid username or password');
    await page.context().close();
  });

  test('two people chat in General and in a private room, live', async () => {
    const alice = await logIn('alice');
    const bob = await logIn('bob', { width: 390, height: 844 });
    await alice.waitForSelector('#online li[data-user]');
    await alice.fill('#message-input', 'hello <everyone> & all');
    await alice.click('#send-form button');
    await bob.waitForFunction(() => [...document.querySelectorAll('#messages li')].some((li: any) => li.textContent?.includes('hello <everyone> & all')));
    assert.ok((await messageTexts(alice)).includes('hello <everyone> & all'), 'the sender sees it too, as text, not markup');

    await alice.click('#online li[data-user]');
    await alice.waitForFunction(() => document.querySelector('#room-title')?.textContent === 'bob');
    await alice.fill('#message-input', 'just between us');
    await alice.click('#send-form button');
    await alice.waitForFunction(() => [...document.querySelectorAll('#messages li')].some((li: any) => li.textContent?.includes('just between us')));
    // Bob hears of the new room (show.room) and opens it.
    await bob.waitForSelector('#rooms li[data-room*=":"]');
    await bob.click('#rooms li[data-room*=":"]');
    await bob.waitForFunction(() => [...document.querySelectorAll('#messages li')].some((li: any) => li.textContent?.includes('just between us')));
    await bob.fill('#message-input', 'agreed');
    await bob.click('#send-form button');
    await alice.waitForFunction(() => [...document.querySelectorAll('#messages li')].some((li: any) => li.textContent?.includes('agreed')));
    await alice.screenshot({ path: path.join(artifacts, 'console-chat-alice.png') });
    await bob.screenshot({ path: path.join(artifacts, 'console-chat-bob-phone.png') });
    await alice.context().close();
    await bob.context().close();
  });

  test('older history loads on scroll', async () => {
    const tokenAnswer = await fetch(`${server.url}/chat/login`, { method: 'POST', body: JSON.stringify({ username: 'bob', password: 'bob-password' }) });
    const cookie = (tokenAnswer.headers.get('set-cookie') ?? '').split(';')[0]!;
    for (let i = 0; i < 45; i++) {
      await fetch(`${server.url}/chat/room/0/messages`, { method: 'POST', headers: { cookie }, body: JSON.stringify({ message: `history ${i}` }) });
    }
    const alice = await logIn('alice');
    await alice.waitForFunction(() => document.querySelectorAll('#messages li').length === 30);
    await alice.evaluate(() => (document.querySelector('#messages').scrollTop = 0));
    await alice.waitForFunction(() => document.querySelectorAll('#messages li').length > 30);
    assert.ok((await messageTexts(alice)).includes('history 0'), 'the oldest page arrived');
    await alice.context().close();
  });

  test('a notification sent through the API appears and is acknowledged', async () => {
    const alice = await logIn('alice');
    const token = ((await (await fetch(`${server.url}/api/auth/token`, { method: 'POST', body: JSON.stringify({ client_id: 'backend', client_secret: clientSecret }) })).json()) as { access_token: string }).access_token;
    const sent = await fetch(`${server.url}/api/message/notify`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
      body: JSON.stringify({ users: ['alice'], payload: 'Your invoice is ready' }),
    });
    assert.equal(sent.status, 202);
    await alice.waitForSelector('#notifications li');
    assert.match((await alice.textContent('#notifications li')) ?? '', /Your invoice is ready/);
    await alice.screenshot({ path: path.join(artifacts, 'console-notification.png') });
    await alice.click('#notifications li button');
    await alice.waitForFunction(() => document.querySelectorAll('#notifications li').length === 0);
    // Acknowledged for real: a new stream for alice replays nothing.
    const streamToken = ((await (await fetch(`${server.url}/api/user/alice/token`, { headers: { authorization: `Bearer ${token}` } })).json()) as { access_token: string }).access_token;
    const stream = await fetch(`${server.url}/sse?token=${streamToken}`);
    const reader = stream.body!.getReader();
    const first = new TextDecoder().decode((await reader.read()).value);
    assert.match(first, /"payload":"ping"/, 'nothing pending any more');
    await reader.cancel();
    await alice.context().close();
  });

  test('the admin view shows live connection counts; others are refused', async () => {
    const watched = await logIn('bob');
    const root = await logIn('root');
    await root.goto(`${server.url}/ui/admin`);
    await root.waitForSelector('#admin:not([hidden])');
    await root.waitForFunction(() => Number(document.querySelector('#connections-total')?.textContent) >= 2);
    await root.waitForFunction(() => document.querySelectorAll('#online-users li').length >= 1);
    await root.screenshot({ path: path.join(artifacts, 'console-admin.png'), fullPage: true });
    const before = Number(await root.textContent('#connections-total'));
    await watched.context().close();
    await root.waitForFunction((n) => Number(document.querySelector('#connections-total')?.textContent) < n, before, { timeout: 10_000 });
    assert.match((await root.textContent('#config')) ?? '', /frame_limit/);
    await root.selectOption('#notify-form select[name=kind]', 'users');
    await root.fill('#notify-form input[name=target]', 'bob');
    await root.fill('#notify-form textarea[name=payload]', 'from the console');
    await root.click('#notify-form button');
    await root.waitForFunction(() => document.querySelector('#notify-result')?.textContent === 'sent to 1 recipient(s)');

    const alice = await logIn('alice');
    await alice.goto(`${server.url}/ui/admin`);
    await alice.waitForSelector('#denied:not([hidden])');
    const api = await alice.evaluate(async () => (await fetch('/ui/api/admin/stats')).status);
    assert.equal(api, 403);
    await alice.context().close();
    await root.context().close();
  });
});
