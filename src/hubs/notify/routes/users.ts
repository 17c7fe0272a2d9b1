// /api/user: the directory's users as seed 000's API sees them (user_id = username).
import type { Hono } from 'hono';
import { DirectoryError, type PublicUser } from '../../../core/directory.ts';
import { readJsonBody } from '../../../transports/json-body.ts';
import type { NotifyContext, NotifyEnv } from '../context.ts';
import { notifyError, validationError } from '../errors.ts';
import { ensureUser, paging } from '../users.ts';

export function userRoutes(app: Hono<NotifyEnv>, ctx: NotifyContext): void {
  const { core } = ctx;
  const view = (user: PublicUser) => ({ user_id: user.username, id: user.id, name: user.name, online: core.presence.isOnline(user.id) });

  app.get('/api/user', async (c) => {
    const { page, pageSize } = paging((name) => c.req.query(name));
    const users = await core.directory.listUsers({ offset: (page - 1) * pageSize, limit: pageSize });
    return c.json({ list: users.items.map(view), page, page_size: pageSize, total: users.total });
  });

  app.post('/api/user', async (c) => {
    const body = await readJsonBody(c, core.config.bodyLimit);
    if (!body.ok) return notifyError(c, body.status, body.message);
    const { user_id: username, name } = (body.value ?? {}) as Record<string, unknown>;
    if (typeof username !== 'string' || username === '') return validationError(c, { user_id: 'User id cannot be empty' });
    if (name !== undefined && typeof name !== 'string') return validationError(c, { name: 'Name must be a string' });
    try {
      return c.json(view(await core.directory.addUser({ username, name })), 201);
    } catch (error) {
      if (error instanceof DirectoryError && error.code === 'exists') return notifyError(c, 409, 'User already exists');
      if (error instanceof DirectoryError) return validationError(c, { [error.field === 'name' ? 'name' : 'user_id']: error.message });
      throw error;
    }
  });

  app.get('/api/user/:user_id', async (c) => {
    const user = await core.directory.findUser(c.req.param('user_id'));
    return user ? c.json(view(user)) : notifyError(c, 404, 'User not found');
  });

  app.delete('/api/user/:user_id', async (c) => {
    try {
      const removed = await core.directory.removeUser(c.req.param('user_id'));
      return c.json({ user_id: removed.username, deleted: true });
    } catch (error) {
      if (error instanceof DirectoryError && error.code === 'not_found') return notifyError(c, 404, 'User not found');
      throw error;
    }
  });

  // A short-lived stream token for this user's EventSource. Creates the user when missing, so a
  // backend can hand a token to a brand-new user before anything was sent to them.
  app.get('/api/user/:user_id/token', async (c) => {
    const user = await ensureUser(core, c.req.param('user_id'));
    const token = await core.tokens.issue('stream', String(user.id), user.username);
    return c.json({ access_token: token, type: 'bearer', expires_in: core.tokens.lifetime('stream') });
  });
}

