// Hub dm (seed 004, flash-chat-server): register and log in with a password, get a JWT, list users,
// and chat one to one over a WebSocket, with durable history and delivery of what was missed.
//
// Canonical routes are under /dm; in compatibility mode /register, /login, /users, /users/ and the
// WebSocket /chats/:username also answer at the root (POST /login and GET /users are shared with
// chat; server/root-dispatch.ts picks the hub by content).
import { Hono, type Context } from 'hono';
import { addressLimitsOf } from '../../core/address-limits.ts';
import type { Core } from '../../core/core.ts';
import { isUnavailable } from '../../store/types.ts';
import { WebSocketEndpoint } from '../../transports/websocket.ts';
import type { Hub } from '../hub.ts';
import type { DmContext, DmEnv } from './context.ts';
import { Conversations } from './conversation.ts';
import { Cursors } from './cursors.ts';
import { Deliveries } from './deliveries.ts';
import { envelope, envelopeText, messages, reply } from './envelope.ts';
import { accountRoutes } from './routes/account.ts';
import { plainChatRoute } from './routes/chats.ts';
import { historyRoutes } from './routes/history.ts';
import { userRoutes } from './routes/users.ts';
import { chatUpgradeRoute } from './upgrade.ts';

export function createDmHub(core: Core): Hub {
  const conversations = new Conversations(core);
  const cursors = new Cursors(core.store.messages, core.log);
  const ctx: DmContext = {
    core,
    conversations,
    cursors,
    deliveries: new Deliveries(core, conversations, cursors),
    loginAttempts: core.loginAttempts('password-login'),
    removedUsers: new Set(),
  };
  // From the bus, so a removal on any node counts (core.ts publishes it).
  const stopWatching = core.bus.subscribe('users.removed', (userId) => ctx.removedUsers.add(userId as number));
  const endpoint = new WebSocketEndpoint({
    hub: 'dm',
    frameLimit: core.config.frameLimit,
    maxBufferedBytes: core.config.sendQueueBytes,
    heartbeatSeconds: core.config.wsHeartbeat,
    origins: core.config.origins,
    messagesPerSecond: core.config.messagesPerSecond,
    addresses: addressLimitsOf(core),
    errorBody: (status, message) => envelopeText(status, message),
  });

  const app = seedRoutes(ctx);
  historyRoutes(app, ctx);
  return {
    name: 'dm',
    errorBody: (status, message) => envelope(status, message),
    app,
    legacyApp: seedRoutes(ctx),
    upgrades: [chatUpgradeRoute(ctx, endpoint, '/dm/chats/', false), chatUpgradeRoute(ctx, endpoint, '/chats/', true)],
    close: async () => {
      stopWatching();
      ctx.deliveries.close();
      endpoint.close();
      await cursors.close();
    },
  };
}

/** The seed's own paths, under /dm and (compatibility mode) at the root. */
function seedRoutes(ctx: DmContext): Hono<DmEnv> {
  const routes = new Hono<DmEnv>();
  routes.onError((error: Error, c: Context) => {
    if (isUnavailable(error)) return reply(c, 503, messages.unavailable);
    ctx.core.log.error('dm.unhandled_error', { method: c.req.method, path: c.req.path, error: error.stack ?? error.message });
    return reply(c, 500, messages.internal);
  });
  accountRoutes(routes, ctx);
  userRoutes(routes, ctx);
  plainChatRoute(routes, ctx);
  return routes;
}
