// GET /presence/online: the online user ids, for backends (an API client token, as for notify).
import type { Hono } from 'hono';
import type { Core } from '../../../core/core.ts';
import { TokenError } from '../../../core/tokens.ts';
import { bearerToken } from '../../../transports/bearer.ts';
import { sortedOnline } from '../connection.ts';

export function onlineRoute(app: Hono, core: Core): void {
  app.get('/online', async (c) => {
    const token = bearerToken(c.req.header('authorization'));
    if (!token) return c.json({ error: 'Missing credentials' }, 401);
    try {
      await core.tokens.verify(token, 'client');
    } catch (error) {
      if (error instanceof TokenError) return c.json({ error: 'Invalid token' }, 401);
      throw error;
    }
    return c.json({ users: sortedOnline(core) });
  });
}
