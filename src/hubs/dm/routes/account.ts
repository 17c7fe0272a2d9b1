// POST /register and POST /login (seed 004's controllers/auth.go), over the shared user directory:
// an account made here can log in on the other hubs, and one made with `flashhub user add` logs in
// here. The answer is a flashhub user token carrying the seed's "email" claim (= the username).
import { getConnInfo } from '@hono/node-server/conninfo';
import type { Context, Hono } from 'hono';
import type { PublicUser } from '../../../core/directory.ts';
import { DirectoryError } from '../../../core/directory.ts';
import { readJsonBody } from '../../../transports/json-body.ts';
import type { DmContext, DmEnv } from '../context.ts';
import { messages, reply } from '../envelope.ts';

type Fields<K extends string> = { ok: true; fields: Record<K, string> } | { ok: false; response: Response };

export function accountRoutes(app: Hono<DmEnv>, ctx: DmContext): void {
  const { core } = ctx;

  // The seed took a name of letters only (gin "alpha"), so "Parsa Mohammadi" or "Zoë" were refused.
  // flashhub takes any name the directory does (1 to 100 characters, no control characters).
  app.post('/register', async (c) => {
    if (!core.config.openRegistration) return reply(c, 403, 'registration is closed; ask an operator for an account');
    const body = await jsonFields(c, ctx, ['name', 'username', 'password']);
    if (!body.ok) return body.response;
    const { name, username, password } = body.fields;
    let user: PublicUser;
    try {
      user = await core.directory.addUser({ username, name, password });
    } catch (error) {
      if (!(error instanceof DirectoryError)) throw error;
      if (error.code === 'exists') return reply(c, 400, messages.userExists);
      return reply(c, 422, error.message);
    }
    core.log.info('dm.registered', { userId: user.id, username: user.username });
    return reply(c, 200, `welcome ${user.name}`, { token: await issue(ctx, user) });
  });

  // Failed attempts are limited per username and per address; a right password is never throttled
  // until the limit is reached. The seed's two messages are kept: they tell apart an unknown user
  // and a wrong password (GET /users lists every username to any user anyway). Both cost the same
  // time (directory.authenticate).
  app.post('/login', async (c) => {
    const body = await jsonFields(c, ctx, ['username', 'password']);
    if (!body.ok) return body.response;
    const { username, password } = body.fields;
    const keys = [`user:${username.toLowerCase()}`, `address:${getConnInfo(c).remote.address ?? ''}`];
    const decision = await ctx.loginAttempts.check(...keys);
    if (!decision.ok) {
      c.header('Retry-After', String(decision.retryAfter));
      return reply(c, 429, 'too many login attempts, try again later');
    }
    const user = await core.directory.authenticate(username, password);
    if (!user) {
      await ctx.loginAttempts.fail(...keys);
      const known = (await core.directory.findUser(username)) !== undefined;
      core.log.info('dm.login_failed', { username, known });
      return reply(c, 400, known ? messages.wrongCredentials : messages.userNotFound);
    }
    return reply(c, 200, '', { token: await issue(ctx, user) });
  });
}

function issue(ctx: DmContext, user: PublicUser): Promise<string> {
  return ctx.core.tokens.issue('user', String(user.id), user.username, { email: user.username });
}

/**
 * The body as an object with every `required` field a non-empty string; otherwise the seed's 422
 * (gin's binding errors, including unreadable JSON), or 413 for a body over the limit.
 */
async function jsonFields<K extends string>(c: Context<DmEnv>, ctx: DmContext, required: readonly K[]): Promise<Fields<K>> {
  const body = await readJsonBody(c, ctx.core.config.bodyLimit);
  if (!body.ok) return { ok: false, response: reply(c, body.status === 413 ? 413 : 422, body.message) };
  const value = body.value;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    const problem = value === undefined ? 'request body is empty' : 'request body is not a JSON object';
    return { ok: false, response: reply(c, 422, `${problem}: expected {${required.map((name) => `"${name}"`).join(',')}}`) };
  }
  const fields = value as Record<string, unknown>;
  const problems = required.flatMap((name) => {
    const field = fields[name];
    if (field === undefined || field === null || field === '') return [`${name} is required`];
    return typeof field === 'string' ? [] : [`${name} must be a string`];
  });
  if (problems.length > 0) return { ok: false, response: reply(c, 422, problems.join('; ')) };
  return { ok: true, fields: fields as Record<K, string> };
}
