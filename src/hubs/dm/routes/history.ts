// GET /dm/chats/:username/messages?before=&after=&limit= (Bearer): the conversation of the caller and
// :username, in the frame shape of the socket, oldest first (ascending id) within the page.
//   no bound         the newest `limit` messages
//   before=<id>      the newest `limit` messages older than <id> (page back with the first id)
//   after=<id>       the oldest `limit` messages newer than <id> (catch up after the last id seen)
// limit: default 50, at most 500.
import type { Hono } from 'hono';
import { requireUser } from '../auth.ts';
import type { DmContext, DmEnv } from '../context.ts';
import { roomOf } from '../conversation.ts';
import { messages, reply } from '../envelope.ts';
import { parseSeq } from '../params.ts';

export const maxHistoryPage = 500;
const defaultHistoryPage = 50;

export function historyRoutes(app: Hono<DmEnv>, ctx: DmContext): void {
  const { core, conversations } = ctx;
  app.get('/chats/:username/messages', requireUser(core), async (c) => {
    const me = c.get('user');
    const peer = await core.directory.findUser(c.req.param('username'));
    if (!peer) return reply(c, 404, messages.userNotFound);
    const problems: string[] = [];
    const bound = (name: string, min: number): number | undefined => {
      const raw = c.req.query(name);
      if (raw === undefined) return undefined;
      const value = parseSeq(raw, min);
      if (value === undefined) problems.push(`${name} must be a whole number${min > 0 ? ` from ${min}` : ''}`);
      return value;
    };
    const before = bound('before', 1);
    const after = bound('after', 0);
    const limit = bound('limit', 1) ?? defaultHistoryPage;
    if (limit > maxHistoryPage) problems.push(`limit must be at most ${maxHistoryPage}`);
    if (problems.length > 0) return reply(c, 422, problems.join('; '));
    const page = await conversations.page(roomOf(me.id, peer.id), { beforeSeq: before, afterSeq: after, limit });
    return reply(c, 200, '', await Promise.all(page.map((message) => conversations.fields(message))));
  });
}
