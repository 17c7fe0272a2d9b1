// Bearer tokens on the notify API. The server API takes client tokens only; acknowledge also takes the
// user's own stream token. A user token (dm, presence, chat) is never accepted here.
import type { MiddlewareHandler } from 'hono';
import { TokenError, type TokenKind } from '../../core/tokens.ts';
import { bearerToken } from '../../transports/bearer.ts';
import type { Caller, NotifyContext, NotifyEnv } from './context.ts';
import { notifyError } from './errors.ts';

export function requireCaller(ctx: NotifyContext, kinds: readonly TokenKind[]): MiddlewareHandler<NotifyEnv> {
  return async (c, next) => {
    const token = bearerToken(c.req.header('authorization'));
    if (!token) return notifyError(c, 401, 'Missing credentials');
    const caller = await verifyAny(ctx, token, kinds);
    if (!caller) return notifyError(c, 401, 'Invalid token');
    c.set('caller', caller);
    await next();
  };
}

async function verifyAny(ctx: NotifyContext, token: string, kinds: readonly TokenKind[]): Promise<Caller | undefined> {
  for (const kind of kinds) {
    try {
      const claims = await ctx.core.tokens.verify(token, kind);
      return kind === 'client' ? { kind: 'client', clientId: claims.subject } : { kind: 'user', userId: Number(claims.subject) };
    } catch (error) {
      if (!(error instanceof TokenError)) throw error;
    }
  }
  return undefined;
}
