// GET|POST /login, GET|POST /logout, GET /me.
import type { Context, Hono } from 'hono';
import { getConnInfo } from '@hono/node-server/conninfo';
import { checkUsername, DirectoryError, type PublicUser } from '../../../core/directory.ts';
import { readJsonBody } from '../../../transports/json-body.ts';
import type { ChatContext, ChatEnv } from '../context.ts';
import { chatError } from '../errors.ts';

const invalidCredentials = 'Invalid username or password';

export function loginRoutes(app: Hono<ChatEnv>, ctx: ChatContext): void {
  const login = async (c: Context<ChatEnv>) => {
    const body = await readJsonBody(c, ctx.core.config.bodyLimit);
    if (!body.ok) return chatError(c, body.status, body.message);
    const fields = (typeof body.value === 'object' && body.value !== null ? body.value : {}) as Record<string, unknown>;
    const username = fields.username ?? c.req.query('username');
    const password = fields.password;
    try {
      checkUsername(username);
    } catch {
      return chatError(c, 400, 'Invalid username');
    }
    if (password !== undefined && typeof password !== 'string') return chatError(c, 400, 'Invalid password');
    const keys = [`user:${(username as string).toLowerCase()}`, `address:${getConnInfo(c).remote.address ?? ''}`];
    const decision = await ctx.loginAttempts.check(...keys);
    if (!decision.ok) {
      c.header('Retry-After', String(decision.retryAfter));
      return chatError(c, 429, 'Too many login attempts, try again later');
    }
    const user = await authenticate(ctx, username as string, password);
    if (!user) {
      await ctx.loginAttempts.fail(...keys);
      return chatError(c, 401, invalidCredentials);
    }
    await ctx.sessions.start(c, user);
    return c.json({ id: String(user.id), username: user.username });
  };
  app.get('/login', login);
  app.post('/login', login);

  const logout = async (c: Context<ChatEnv>) => {
    const session = await ctx.sessions.current(c);
    if (!session) return chatError(c, 404, 'No user currently logged in');
    ctx.sessions.end(c, session);
    return c.json({ message: `User ${session.user.id} has been logged out` });
  };
  app.get('/logout', logout);
  app.post('/logout', logout);

  // The demo's clients ask /me on load and show the login form on null.
  app.get('/me', async (c) => {
    const session = await ctx.sessions.current(c);
    return c.json(session ? { id: String(session.user.id), username: session.user.username } : null);
  });
}

/**
 * A user with a password needs it, always. Without open login, nobody gets in without a password;
 * with it (--demo), password-less users log in by name and unknown names are created.
 */
async function authenticate(ctx: ChatContext, username: string, password: string | undefined): Promise<PublicUser | undefined> {
  const { directory, config } = ctx.core;
  if (password !== undefined && password !== '') return directory.authenticate(username, password);
  if (!config.openLogin) return undefined;
  const existing = await directory.findUser(username);
  if (existing) return existing.hasPassword ? undefined : existing;
  try {
    return await directory.addUser({ username });
  } catch (error) {
    if (error instanceof DirectoryError && error.code === 'exists') return directory.findUser(username);
    throw error;
  }
}
