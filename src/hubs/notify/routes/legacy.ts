// GET /notify?user_id=<id>: the test route of seed 000's first commits, which its playground still
// calls. It sends "Hello, world!" to that user without any authentication, so it exists only while
// allow_user_id_param is on (--demo).
import type { Hono } from 'hono';
import type { NotifyContext, NotifyEnv } from '../context.ts';
import { notifyError } from '../errors.ts';
import { ensureUser } from '../users.ts';

export function legacyNotifyRoute(app: Hono<NotifyEnv>, ctx: NotifyContext): void {
  app.get('/', async (c) => {
    const username = c.req.query('user_id');
    if (!ctx.core.config.allowUserIdParam || username === undefined) return notifyError(c, 404, 'Not Found');
    const user = await ensureUser(ctx.core, username);
    const payload = 'Hello, world!';
    ctx.deliveries.publish(await ctx.core.store.notifications.enqueue([user.id], payload), payload);
    return c.body(null, 204);
  });
}
