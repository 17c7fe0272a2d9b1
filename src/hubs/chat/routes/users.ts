// GET /users/online and GET /users?ids[]=..: users in the seed's map shape,
// {"<id>": {"id":"<id>","username","online"}}. Open as in the seed, whose clients call them before
// anything else: they tell usernames and online state, nothing more.
import type { Hono } from 'hono';
import type { Core } from '../../../core/core.ts';
import type { ChatContext, ChatEnv } from '../context.ts';
import { chatError } from '../errors.ts';

const maxIds = 100;

async function userMap(core: Core, ids: number[]): Promise<Record<string, { id: string; username: string; online: boolean }>> {
  const map: Record<string, { id: string; username: string; online: boolean }> = {};
  for (const id of ids) {
    const user = await core.directory.getUser(id);
    if (user) map[String(id)] = { id: String(id), username: user.username, online: core.presence.isOnline(id) };
  }
  return map;
}

export function userRoutes(app: Hono<ChatEnv>, ctx: ChatContext): void {
  app.get('/users/online', async (c) => c.json(await userMap(ctx.core, ctx.core.presence.onlineUsers().sort((a, b) => a - b))));

  app.get('/users', async (c) => {
    const raw = [...c.req.queries('ids[]') ?? [], ...c.req.queries('ids') ?? []].flatMap((value) => value.split(','));
    if (raw.length === 0) return chatError(c, 400, 'Give the user ids as ?ids[]=1&ids[]=2');
    if (raw.length > maxIds) return chatError(c, 400, `At most ${maxIds} ids`);
    const ids = raw.map(Number);
    if (!ids.every((id) => Number.isSafeInteger(id) && id > 0)) return chatError(c, 400, 'User ids are positive whole numbers');
    return c.json(await userMap(ctx.core, [...new Set(ids)]));
  });
}
