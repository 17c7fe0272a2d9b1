// Who is logged in to chat: a signed session cookie (a flashhub user token, HttpOnly, SameSite=Lax),
// or the same token as `Authorization: Bearer` or `?token=` for clients without cookies. Logging out
// revokes that token everywhere until it would have expired anyway.
import type { Context } from 'hono';
import { deleteCookie, setCookie } from 'hono/cookie';
import type { Core } from '../../core/core.ts';
import type { PublicUser } from '../../core/directory.ts';
import { tokenUser } from '../../core/token-user.ts';
import { sessionCookieName, sessionToken } from '../../transports/session-cookie.ts';

export interface LoggedIn {
  user: PublicUser;
  tokenId: string;
  expiresAt: number;
}

export class LoginSessions {
  readonly #core: Core;

  constructor(core: Core) {
    this.#core = core;
  }

  async start(c: Context, user: PublicUser): Promise<void> {
    const token = await this.#core.tokens.issue('user', String(user.id), user.username, { email: user.username });
    setCookie(c, sessionCookieName, token, { httpOnly: true, sameSite: 'Lax', path: '/', maxAge: this.#core.tokens.lifetime('user') });
  }

  /** The logged-in user of a request, from its cookie, Bearer header or ?token=. */
  async current(c: Context): Promise<LoggedIn | undefined> {
    const token = sessionToken(c);
    return token === undefined ? undefined : this.fromToken(token);
  }

  async fromToken(token: string): Promise<LoggedIn | undefined> {
    const found = await tokenUser(this.#core.tokens, this.#core.directory, token);
    return found && { user: found.user, tokenId: found.claims.tokenId, expiresAt: found.claims.expiresAt };
  }

  end(c: Context, session: LoggedIn): void {
    this.#core.tokens.revoke(session);
    deleteCookie(c, sessionCookieName, { path: '/' });
  }
}
