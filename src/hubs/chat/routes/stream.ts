// GET /stream: the EventSource of chat events for the logged-in user (session cookie, or ?token=).
// Seed 002's /stream relayed only other servers' events (so it was empty on one server) and every
// private message to everyone on many; this one carries what the user may see, from this server too.
import type { Hono } from 'hono';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import { openUserStream } from '../../../transports/sse.ts';
import type { ChatContext, ChatEnv } from '../context.ts';
import { chatError } from '../errors.ts';
import { followEvents } from '../listener.ts';

export function streamRoutes(app: Hono<ChatEnv>, ctx: ChatContext): void {
  const { core } = ctx;
  app.get('/stream', async (c) => {
    const login = await ctx.sessions.current(c);
    if (!login) return chatError(c, 401, 'Not logged in');
    const session = await openUserStream(core, c.env, { hub: 'chat', userId: login.user.id, origin: c.req.header('origin') });
    if (session === 'user') return chatError(c, 429, 'Too many connections for this user');
    if (session === 'address') return chatError(c, 429, 'Too many connections from this address');
    session.expireAt(login.expiresAt);
    const lastEventId = c.req.header('last-event-id') ?? c.req.query('lastEventId');
    followEvents(core, ctx.events, session, lastEventId, (event) => event.sseFrame, (json) => `data: ${json}\n\n`);
    return RESPONSE_ALREADY_SENT;
  });
}
