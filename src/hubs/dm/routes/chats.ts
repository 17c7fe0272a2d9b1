// GET /chats/:username without a WebSocket upgrade: the seed's auth middleware answered first (401),
// then gorilla refused the plain request with 400. Same here, in the envelope.
import type { Hono } from 'hono';
import { requireUser } from '../auth.ts';
import type { DmContext, DmEnv } from '../context.ts';
import { reply } from '../envelope.ts';

export function plainChatRoute(app: Hono<DmEnv>, ctx: DmContext): void {
  app.get('/chats/:username', requireUser(ctx.core), (c) =>
    reply(c, 400, 'this route is a WebSocket: connect with an Upgrade: websocket request'),
  );
}
