// Seed 004's Authorization handling (middlewares/auth.go): the token is the header with the first
// "Bearer" taken out and spaces trimmed, so "Bearer <t>", "Bearer<t>" (what the seed's own Go client
// sends) and a bare "<t>" all work. The token must be a flashhub user token of a user that still exists.
import type { MiddlewareHandler } from 'hono';
import type { Core } from '../../core/core.ts';
import type { PublicUser } from '../../core/directory.ts';
import { TokenError } from '../../core/tokens.ts';
import type { DmEnv } from './context.ts';
import { messages, reply } from './envelope.ts';

export interface Identity {
  user: PublicUser;
  /** Unix seconds. */
  expiresAt: number;
}

export interface AuthFailure {
  status: 401;
  message: string;
}

/** The token of an Authorization header as the seed reads it; undefined when there is no header. */
export function tokenFromAuthorization(header: string | undefined): string | undefined {
  if (header === undefined || header.trim() === '') return undefined;
  return header.trim().replace(/^bearer/i, '').trim();
}

/** Who a token belongs to; `token` undefined means no credentials were sent at all. */
export async function identify(core: Core, token: string | undefined): Promise<Identity | AuthFailure> {
  if (token === undefined) return { status: 401, message: messages.headerRequired };
  if (token === '') return { status: 401, message: messages.unauthorized };
  let subject: string;
  let expiresAt: number;
  try {
    ({ subject, expiresAt } = await core.tokens.verify(token, 'user'));
  } catch (error) {
    if (error instanceof TokenError) return { status: 401, message: messages.unauthorized };
    throw error;
  }
  const user = await core.directory.getUser(Number(subject));
  if (!user) return { status: 401, message: messages.userNotFound };
  return { user, expiresAt };
}

export function isFailure(result: Identity | AuthFailure): result is AuthFailure {
  return 'status' in result;
}

/** Routes behind it see the caller as c.get('user'). */
export function requireUser(core: Core): MiddlewareHandler<DmEnv> {
  return async (c, next) => {
    const result = await identify(core, tokenFromAuthorization(c.req.header('authorization')));
    if (isFailure(result)) return reply(c, result.status, result.message);
    c.set('user', result.user);
    await next();
  };
}
