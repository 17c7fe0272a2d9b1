// Hub notify (seed 000): backends push notifications to users and groups; browsers receive them on an
// EventSource stream and acknowledge them.
import { Hono, type Context } from 'hono';
import type { Core } from '../../core/core.ts';
import type { Hub } from '../hub.ts';
import { requireCaller } from './auth.ts';
import type { NotifyContext, NotifyEnv } from './context.ts';
import { Deliveries } from './deliveries.ts';
import { fieldErrorResponse } from './errors.ts';
import { groupRoutes } from './routes/groups.ts';
import { legacyNotifyRoute } from './routes/legacy.ts';
import { messageRoutes } from './routes/messages.ts';
import { streamRoutes } from './routes/stream.ts';
import { tokenRoutes } from './routes/token.ts';
import { userRoutes } from './routes/users.ts';

export function createNotifyHub(core: Core): Hub {
  const ctx: NotifyContext = {
    core,
    deliveries: new Deliveries(core),
    tokenAttempts: core.loginAttempts('notify-token'),
  };
  const routes = seedRoutes(ctx);
  // Canonical: /notify/sse, /notify/api/...; and seed 000's first test route, GET /notify?user_id=.
  const app = new Hono<NotifyEnv>();
  app.onError(onFieldError);
  legacyNotifyRoute(app, ctx);
  app.route('/', routes);
  return {
    name: 'notify',
    app,
    legacyApp: routes,
    close: async () => ctx.deliveries.close(),
  };
}

/** The seed's own paths, served under /notify and (compatibility mode) at the root. */
function seedRoutes(ctx: NotifyContext): Hono<NotifyEnv> {
  const routes = new Hono<NotifyEnv>();
  routes.onError(onFieldError);
  routes.use('/api/user', requireCaller(ctx, ['client']));
  routes.use('/api/user/*', requireCaller(ctx, ['client']));
  routes.use('/api/group', requireCaller(ctx, ['client']));
  routes.use('/api/group/*', requireCaller(ctx, ['client']));
  routes.use('/api/message/notify', requireCaller(ctx, ['client']));
  routes.use('/api/message/acknowledge', requireCaller(ctx, ['client', 'stream']));
  tokenRoutes(routes, ctx);
  userRoutes(routes, ctx);
  groupRoutes(routes, ctx);
  messageRoutes(routes, ctx);
  streamRoutes(routes, ctx);
  return routes;
}

function onFieldError(error: Error, c: Context): Response {
  const response = fieldErrorResponse(error, c);
  if (response) return response;
  throw error;
}
