// What the console needs beyond the hubs' own APIs, for the logged-in user (the chat session cookie):
//   GET  /ui/api/me              who is logged in
//   POST /ui/api/stream-token    a stream token for the user's own notify EventSource
// and for admins only:
//   GET  /ui/api/admin/stats         connections per hub/transport, online users, events published, recent errors
//   GET  /ui/api/admin/config        the effective configuration, secrets redacted
//   POST /ui/api/admin/client-token  a short-lived API client token, so the form can call notify's API
import type { Context, Hono } from 'hono';
import { describeConfig, options } from '../config.ts';
import type { Core } from '../core/core.ts';
import type { PublicUser } from '../core/directory.ts';
import { tokenUser } from '../core/token-user.ts';
import { sessionToken } from '../transports/session-cookie.ts';

async function currentUser(core: Core, c: Context): Promise<PublicUser | undefined> {
  const token = sessionToken(c);
  return token === undefined ? undefined : (await tokenUser(core.tokens, core.directory, token))?.user;
}

export function consoleApi(app: Hono, core: Core): void {
  app.get('/ui/api/me', async (c) => {
    const user = await currentUser(core, c);
    return user ? c.json({ id: user.id, username: user.username, name: user.name, admin: user.admin }) : c.json({ error: 'Not logged in' }, 401);
  });

  app.post('/ui/api/stream-token', async (c) => {
    const user = await currentUser(core, c);
    if (!user) return c.json({ error: 'Not logged in' }, 401);
    return c.json({ access_token: await core.tokens.issue('stream', String(user.id), user.username), expires_in: core.tokens.lifetime('stream') });
  });

  app.use('/ui/api/admin/*', async (c, next) => {
    const user = await currentUser(core, c);
    if (!user) return c.json({ error: 'Not logged in' }, 401);
    if (!user.admin) return c.json({ error: 'Admins only (flashhub user add --admin)' }, 403);
    await next();
  });

  app.get('/ui/api/admin/stats', async (c) => {
    const online = core.presence.onlineUsers().sort((a, b) => a - b);
    const names = await Promise.all(online.slice(0, 200).map(async (id) => (await core.directory.getUser(id))?.username ?? String(id)));
    return c.json({
      uptimeSeconds: Math.round((Date.now() - core.startedAt) / 1000),
      connections: core.presence.counts(),
      connectionsTotal: core.presence.size,
      onlineCount: online.length,
      online: names,
      published: core.bus.publishedCounts(),
      store: core.store.stats(),
      recentErrors: core.recentErrors.list(),
    });
  });

  app.get('/ui/api/admin/config', (c) => {
    const sources = Object.fromEntries(options.map((spec) => [spec.key, 'running server'])) as Parameters<typeof describeConfig>[0]['sources'];
    return c.json(describeConfig({ config: core.config, sources }).map(({ key, value, describe }) => ({ key, value, describe })));
  });

  app.post('/ui/api/admin/client-token', async (c) => {
    const user = (await currentUser(core, c))!;
    const token = await core.tokens.issue('client', `console:${user.username}`);
    return c.json({ access_token: token, expires_in: core.tokens.lifetime('client') });
  });
}
