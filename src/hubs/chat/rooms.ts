// Rooms as seed 002 names them: General is "0"; a private room of users a and b is "<min>:<max>".
import type { Core } from '../../core/core.ts';
import type { UserId } from '../../store/types.ts';

export const generalRoom = '0';

/**
 * Chat's room names are its room ids ("0", "<a>:<b>"): an id longer than room_name_length is
 * refused (400 or an error frame) before it is parsed.
 */
export function roomIdTooLong(limit: number): string {
  return `A room id has at most ${limit} characters`;
}

export type RoomRef = { kind: 'general' } | { kind: 'private'; members: [UserId, UserId] };

export function parseRoomId(roomId: string): RoomRef | undefined {
  if (roomId === generalRoom) return { kind: 'general' };
  const match = /^([1-9]\d{0,14}):([1-9]\d{0,14})$/.exec(roomId);
  if (!match) return undefined;
  const [a, b] = [Number(match[1]), Number(match[2])];
  return a < b ? { kind: 'private', members: [a, b] } : undefined;
}

export function privateRoomId(a: UserId, b: UserId): string {
  return a < b ? `${a}:${b}` : `${b}:${a}`;
}

export function canAccess(room: RoomRef, userId: UserId): boolean {
  return room.kind === 'general' || room.members.includes(userId);
}

/** The seed's room view: names are one-element lists (Redis HMGET answers), lower id first. */
export async function roomView(core: Core, roomId: string): Promise<{ id: string; names: string[] | string[][] }> {
  const room = parseRoomId(roomId);
  if (!room || room.kind === 'general') return { id: generalRoom, names: ['General'] };
  const names = await Promise.all(room.members.map(async (id) => [(await core.directory.getUser(id))?.username ?? String(id)]));
  return { id: roomId, names };
}

/** Makes sure the private room exists with its two members, so it is listed for both. */
export async function ensurePrivateRoom(core: Core, roomId: string, members: [UserId, UserId]): Promise<void> {
  if (await core.store.meta.getRoom(roomId)) return;
  await core.store.meta.putRoom({ id: roomId, kind: 'private', members, createdAt: Date.now() });
}
