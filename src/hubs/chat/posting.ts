// Sending a message to a room, for the HTTP route and the WebSocket alike: the sender is the logged-in
// user (never a field of the request), the text is escaped as the demo did, the message is durable
// before anyone hears of it (subscribers, core.activity), and the first message of a private room
// announces the room. Room ids over room_name_length and texts over message_length are refused before
// anything is stored.
import type { ActivityUser } from '../../core/activity.ts';
import { longerThan } from '../../core/text-length.ts';
import type { UserId } from '../../store/types.ts';
import type { ChatContext } from './context.ts';
import { escapeHtml, messageView, type ChatMessage } from './frames.ts';
import { canAccess, ensurePrivateRoom, parseRoomId, roomIdTooLong, roomView } from './rooms.ts';

export type PostResult = { ok: true; message: ChatMessage } | { ok: false; status: 400 | 403 | 404; error: string };

export async function postMessage(ctx: ChatContext, from: UserId, roomId: string, text: unknown): Promise<PostResult> {
  const { messageLength, roomNameLength } = ctx.core.config;
  if (longerThan(roomId, roomNameLength)) return { ok: false, status: 400, error: roomIdTooLong(roomNameLength) };
  const room = parseRoomId(roomId);
  if (!room) return { ok: false, status: 400, error: 'Invalid room id' };
  if (!canAccess(room, from)) return { ok: false, status: 403, error: 'Not a member of this room' };
  if (typeof text !== 'string' || text.trim() === '') return { ok: false, status: 400, error: 'A message needs text' };
  // Counted as sent, before the HTML escaping.
  if (longerThan(text, messageLength)) return { ok: false, status: 400, error: `A message has at most ${messageLength} characters` };
  let to: ActivityUser | undefined;
  if (room.kind === 'private') {
    const other = await ctx.core.directory.getUser(room.members[0] === from ? room.members[1] : room.members[0]);
    if (!other) return { ok: false, status: 404, error: 'No such user' };
    to = { id: other.id, username: other.username };
    await ensurePrivateRoom(ctx.core, roomId, room.members);
  }
  const stored = await ctx.core.store.messages.append(roomId, { from, text: escapeHtml(text) });
  ctx.core.activity.emit({
    type: 'message.created',
    hub: 'chat',
    room: roomId,
    seq: stored.seq,
    from: { id: from },
    to,
    text: stored.text ?? '',
    time: stored.ts,
  });
  const message = messageView(stored);
  const audience = room.kind === 'general' ? 'all' : room.members;
  if (room.kind === 'private' && stored.seq === 1) ctx.events.publish('show.room', await roomView(ctx.core, roomId), audience);
  ctx.events.publish('message', message, audience);
  return { ok: true, message };
}
