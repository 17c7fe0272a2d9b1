// GET /users and GET /users/ (Bearer): every user of the directory as {"name","username"}, by id.
// The seed registered only /users/ and redirected /users with a 301; both answer directly here.
// The list is capped: ?limit= (default and at most 1000) and ?offset= page through it, and the
// X-Total-Count header gives the number of users.
import type { Hono } from 'hono';
import { requireUser } from '../auth.ts';
import type { DmContext, DmEnv } from '../context.ts';
import { reply } from '../envelope.ts';
import { parseSeq } from '../params.ts';

export const maxUsersPerPage = 1000;

export function userRoutes(app: Hono<DmEnv>, ctx: DmContext): void {
  const { core } = ctx;
  for (const path of ['/users', '/users/']) {
    app.get(path, requireUser(core), async (c) => {
      const rawLimit = c.req.query('limit');
      const rawOffset = c.req.query('offset');
      const limit = rawLimit === undefined ? maxUsersPerPage : parseSeq(rawLimit, 1);
      const offset = rawOffset === undefined ? 0 : parseSeq(rawOffset, 0);
      if (limit === undefined || limit > maxUsersPerPage) return reply(c, 422, `limit must be a whole number from 1 to ${maxUsersPerPage}`);
      if (offset === undefined) return reply(c, 422, 'offset must be a whole number');
      const page = await core.directory.listUsers({ offset, limit });
      c.header('X-Total-Count', String(page.total));
      return reply(c, 200, '', page.items.map(({ name, username }) => ({ name, username })));
    });
  }
}
