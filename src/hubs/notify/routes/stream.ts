// GET /sse: the EventSource stream of one user. ?token= carries a stream token; ?user_id= alone (the
// seed's own test client) works only when allow_user_id_param is on (--demo).
import type { Context, Hono } from 'hono';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import { closeReasons } from '../../../core/session.ts';
import { TokenError } from '../../../core/tokens.ts';
import { isUnavailable } from '../../../store/types.ts';
import { openUserStream } from '../../../transports/sse.ts';
import type { NotifyContext, NotifyEnv } from '../context.ts';
import { notifyError } from '../errors.ts';
import { ensureUser } from '../users.ts';

interface StreamIdentity {
  userId: number;
  /** Unix seconds; the stream is closed then, and the client reconnects with a fresh token. */
  expiresAt?: number;
}

export function streamRoutes(app: Hono<NotifyEnv>, ctx: NotifyContext): void {
  const { core } = ctx;

  app.get('/sse', async (c) => {
    const identity = await identify(c, ctx);
    if (identity instanceof Response) return identity;
    const session = await openUserStream(core, c.env, { hub: 'notify', userId: identity.userId, origin: c.req.header('origin') });
    if (session === 'user') return notifyError(c, 429, 'Too many connections for this user');
    if (session === 'address') return notifyError(c, 429, 'Too many connections from this address');
    core.log.info('notify.stream_opened', { userId: identity.userId, remote: session.remoteAddress });
    session.onClose((reason) => core.log.info('notify.stream_closed', { userId: identity.userId, reason: reason.text }));
    if (identity.expiresAt !== undefined) session.expireAt(identity.expiresAt);
    ctx.deliveries.attach(session, identity.userId, lastEventId(c)).catch((error: unknown) => {
      if (!isUnavailable(error)) core.log.error('notify.replay_failed', { userId: identity.userId, error });
      session.close(closeReasons.tryAgainLater);
    });
    return RESPONSE_ALREADY_SENT;
  });
}

async function identify(c: Context<NotifyEnv>, ctx: NotifyContext): Promise<StreamIdentity | Response> {
  const token = c.req.query('token');
  if (token !== undefined) {
    try {
      const claims = await ctx.core.tokens.verify(token, 'stream');
      if (!(await ctx.core.directory.getUser(Number(claims.subject)))) return notifyError(c, 401, 'Invalid token');
      return { userId: Number(claims.subject), expiresAt: claims.expiresAt };
    } catch (error) {
      if (error instanceof TokenError) return notifyError(c, 401, error.reason === 'expired' ? 'Token expired' : 'Invalid token');
      throw error;
    }
  }
  const username = c.req.query('user_id');
  if (username === undefined) return notifyError(c, 400, 'Missing token');
  if (!ctx.core.config.allowUserIdParam) return notifyError(c, 401, 'Invalid token');
  return { userId: (await ensureUser(ctx.core, username)).id };
}

/** The browser's Last-Event-ID on reconnect (or ?last_event_id= for clients that cannot set headers). */
function lastEventId(c: Context): number | undefined {
  const raw = c.req.header('last-event-id') ?? c.req.query('last_event_id');
  const id = raw !== undefined && /^\d{1,15}$/.test(raw.trim()) ? Number(raw.trim()) : undefined;
  return id !== undefined && id > 0 ? id : undefined;
}
