// POST /api/auth/token: client credentials → a short-lived client token.
import type { Hono } from 'hono';
import { getConnInfo } from '@hono/node-server/conninfo';
import { readJsonBody } from '../../../transports/json-body.ts';
import type { NotifyContext, NotifyEnv } from '../context.ts';
import { notifyError, validationError } from '../errors.ts';

export function tokenRoutes(app: Hono<NotifyEnv>, ctx: NotifyContext): void {
  app.post('/api/auth/token', async (c) => {
    const body = await readJsonBody(c, ctx.core.config.bodyLimit);
    if (!body.ok) return notifyError(c, body.status, body.message);
    const { client_id: clientId, client_secret: secret } = (body.value ?? {}) as Record<string, unknown>;
    const detail: Record<string, string> = {};
    if (typeof clientId !== 'string' || clientId === '') detail.client_id = 'Client id cannot be empty';
    if (typeof secret !== 'string' || secret === '') detail.client_secret = 'Client secret cannot be empty';
    if (Object.keys(detail).length) return validationError(c, detail);

    const keys = [`client:${clientId}`, `address:${getConnInfo(c).remote.address ?? ''}`];
    const decision = await ctx.tokenAttempts.check(...keys);
    if (!decision.ok) {
      c.header('Retry-After', String(decision.retryAfter));
      return notifyError(c, 429, 'Too many attempts, try again later');
    }
    if (!(await ctx.core.directory.authenticateClient(clientId as string, secret as string))) {
      await ctx.tokenAttempts.fail(...keys);
      ctx.core.log.info('notify.client_auth_failed', { clientId });
      return notifyError(c, 400, 'Invalid client credentials');
    }
    const accessToken = await ctx.core.tokens.issue('client', clientId as string);
    return c.json({ access_token: accessToken, type: 'bearer', expires_in: ctx.core.tokens.lifetime('client') });
  });
}
