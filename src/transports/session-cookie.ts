// The browser session: chat's login sets a cookie holding a user token; the web console reads the
// same cookie. Clients without cookies send the token as Bearer or ?token=.
import type { IncomingMessage } from 'node:http';
import type { Context } from 'hono';
import { getCookie } from 'hono/cookie';
import { parse as parseCookies } from 'hono/utils/cookie';
import { bearerToken } from './bearer.ts';

export const sessionCookieName = 'session';

export function sessionToken(c: Context): string | undefined {
  return getCookie(c, sessionCookieName) ?? bearerToken(c.req.header('authorization')) ?? c.req.query('token');
}

/** The same, for a WebSocket upgrade request (no Hono context yet). */
export function upgradeSessionToken(request: IncomingMessage): string | undefined {
  const url = new URL(request.url ?? '/', 'http://localhost');
  return (
    parseCookies(request.headers.cookie ?? '', sessionCookieName)[sessionCookieName] ??
    bearerToken(request.headers.authorization) ??
    url.searchParams.get('token') ??
    undefined
  );
}
