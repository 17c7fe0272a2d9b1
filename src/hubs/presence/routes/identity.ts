// The identity API that seed 001's clients call, served locally so its token flow works end to end:
//   POST /oauth/token          password grant (Laravel Passport's request shape) → a flashhub user token
//   GET  /users/me, /api/v2/users/me   Bearer token → {"data": {id, email, firstName, lastName}}, else 403
import type { Hono } from 'hono';
import { getConnInfo } from '@hono/node-server/conninfo';
import type { Core } from '../../../core/core.ts';
import type { AttemptLimiter } from '../../../core/rate-limiter.ts';
import { tokenUser } from '../../../core/token-user.ts';
import { bearerToken } from '../../../transports/bearer.ts';
import { readJsonBody } from '../../../transports/json-body.ts';
import { vvUser } from '../vv-user.ts';

const badCredentials = 'The user credentials were incorrect.';

export function identityRoutes(app: Hono, core: Core, loginAttempts: AttemptLimiter): void {
  app.post('/oauth/token', async (c) => {
    const body = await readJsonBody(c, core.config.bodyLimit);
    if (!body.ok) return c.json({ error: 'invalid_request', error_description: body.message, message: body.message }, body.status);
    const { grant_type: grantType, username, password } = (body.value ?? {}) as Record<string, unknown>;
    if (grantType !== 'password') {
      const message = 'The authorization grant type is not supported by the authorization server.';
      return c.json({ error: 'unsupported_grant_type', error_description: message, message }, 400);
    }
    if (typeof username !== 'string' || typeof password !== 'string' || username === '' || password === '') {
      const message = 'The request is missing a required parameter: username and password.';
      return c.json({ error: 'invalid_request', error_description: message, message }, 400);
    }
    const keys = [`user:${username.toLowerCase()}`, `address:${getConnInfo(c).remote.address ?? ''}`];
    const decision = await loginAttempts.check(...keys);
    if (!decision.ok) {
      c.header('Retry-After', String(decision.retryAfter));
      return c.json({ error: 'too_many_attempts', message: 'Too many login attempts, try again later.' }, 429);
    }
    const user = await core.directory.authenticate(username, password);
    if (!user) {
      await loginAttempts.fail(...keys);
      return c.json({ error: 'invalid_grant', error_description: badCredentials, message: badCredentials }, 400);
    }
    const accessToken = await core.tokens.issue('user', String(user.id), user.username, { email: user.username });
    return c.json({ token_type: 'Bearer', expires_in: core.tokens.lifetime('user'), access_token: accessToken });
  });

  const me = async (authorization: string | undefined) => {
    const token = bearerToken(authorization);
    return token === undefined ? undefined : (await tokenUser(core.tokens, core.directory, token))?.user;
  };
  for (const path of ['/users/me', '/api/v2/users/me']) {
    app.get(path, async (c) => {
      const user = await me(c.req.header('authorization'));
      return user ? c.json({ data: vvUser(user) }) : c.json({ error: 'Forbidden' }, 403);
    });
  }
}
