// GET /rooms/:userId, POST /room, GET|POST /room/:roomId/messages.
import type { Context, Hono } from 'hono';
import type { LoggedIn } from '../login-session.ts';
import { readJsonBody } from '../../../transports/json-body.ts';
import type { ChatContext, ChatEnv } from '../context.ts';
import { chatError } from '../errors.ts';
import { newestFirst } from '../history.ts';
import { postMessage } from '../posting.ts';
import { userIdOf } from '../../../core/directory.ts';
import { longerThan } from '../../../core/text-length.ts';
import { canAccess, ensurePrivateRoom, generalRoom, parseRoomId, privateRoomId, roomIdTooLong, roomView } from '../rooms.ts';

const maxOffset = 100_000;

export function roomRoutes(app: Hono<ChatEnv>, ctx: ChatContext): void {
  const { core } = ctx;
  const loggedIn = async (c: Context): Promise<LoggedIn | Response> =>
    (await ctx.sessions.current(c)) ?? chatError(c, 401, 'Not logged in');

  // The private rooms that have messages, most recently active first, then General.
  app.get('/rooms/:userId', async (c) => {
    const session = await loggedIn(c);
    if (session instanceof Response) return session;
    if (c.req.param('userId') !== String(session.user.id)) return chatError(c, 403, 'You can list only your own rooms');
    const rooms = await core.store.meta.listUserRooms(session.user.id);
    const active = [];
    for (const room of rooms) {
      if (room.kind !== 'private') continue;
      const [last] = await core.store.messages.page(room.id, { limit: 1 });
      if (last) active.push({ id: room.id, lastTs: last.ts });
    }
    active.sort((a, b) => b.lastTs - a.lastTs);
    const views = await Promise.all(active.map(({ id }) => roomView(core, id)));
    return c.json([...views, await roomView(core, generalRoom)]);
  });

  app.post('/room', async (c) => {
    const session = await loggedIn(c);
    if (session instanceof Response) return session;
    const body = await readJsonBody(c, core.config.bodyLimit);
    if (!body.ok) return chatError(c, body.status, body.message);
    const { user1, user2 } = (body.value ?? {}) as Record<string, unknown>;
    const [a, b] = [userIdOf(user1), userIdOf(user2)];
    if (!Number.isSafeInteger(a) || !Number.isSafeInteger(b) || a < 1 || b < 1 || a === b) {
      return chatError(c, 400, 'user1 and user2 are two different user ids');
    }
    if (a !== session.user.id && b !== session.user.id) return chatError(c, 403, 'You can open only your own rooms');
    if (!(await core.directory.getUser(a === session.user.id ? b : a))) return chatError(c, 404, 'No such user');
    const roomId = privateRoomId(a, b);
    if (longerThan(roomId, core.config.roomNameLength)) return chatError(c, 400, roomIdTooLong(core.config.roomNameLength));
    const existed = (await core.store.meta.getRoom(roomId)) !== undefined;
    await ensurePrivateRoom(core, roomId, a < b ? [a, b] : [b, a]);
    return c.json(await roomView(core, roomId), existed ? 200 : 201);
  });

  app.get('/room/:roomId/messages', async (c) => {
    const session = await loggedIn(c);
    if (session instanceof Response) return session;
    if (longerThan(c.req.param('roomId'), core.config.roomNameLength)) return chatError(c, 400, roomIdTooLong(core.config.roomNameLength));
    const room = parseRoomId(c.req.param('roomId'));
    if (!room) return chatError(c, 400, 'Invalid room id');
    if (!canAccess(room, session.user.id)) return chatError(c, 403, 'Not a member of this room');
    const offset = count(c.req.query('offset'), 0);
    const size = count(c.req.query('size'), 15);
    const before = c.req.query('before') === undefined ? undefined : count(c.req.query('before'), 0);
    if (offset === undefined || offset > maxOffset) return chatError(c, 400, `offset is a whole number from 0 to ${maxOffset}`);
    if (size === undefined || size < 1 || size > 500) return chatError(c, 400, 'size is a whole number from 1 to 500');
    if (before === undefined && c.req.query('before') !== undefined) return chatError(c, 400, 'before is a message id');
    return c.json(await newestFirst(core, c.req.param('roomId'), { offset, size, before }));
  });

  app.post('/room/:roomId/messages', async (c) => {
    const session = await loggedIn(c);
    if (session instanceof Response) return session;
    const body = await readJsonBody(c, core.config.bodyLimit);
    if (!body.ok) return chatError(c, body.status, body.message);
    const { message } = (body.value ?? {}) as Record<string, unknown>;
    const result = await postMessage(ctx, session.user.id, c.req.param('roomId'), message);
    return result.ok ? c.json(result.message, 201) : chatError(c, result.status, result.error);
  });
}

function count(raw: string | undefined, fallback: number): number | undefined {
  if (raw === undefined) return fallback;
  return /^\d{1,15}$/.test(raw) ? Number(raw) : undefined;
}
