// A conversation is the history of two users, kept in the message store as the room
// "dm:<lower id>:<higher id>" (a user may talk to themself: "dm:7:7"). Its per-room sequence is the
// message "id" on the wire. The conversation is also recorded as a meta room of kind "dm" with both
// users as members, so a user's conversations can be listed on connect (offline delivery).
import type { Core } from '../../core/core.ts';
import type { PageOptions, StoredMessage, UserId } from '../../store/types.ts';
import { messageFields, type MessageFields } from './frames.ts';

const roomPrefix = 'dm:';
const deletedUser = '[deleted]';

export function roomOf(a: UserId, b: UserId): string {
  return `${roomPrefix}${Math.min(a, b)}:${Math.max(a, b)}`;
}

/** The two users of a conversation room, or undefined for any other room. */
export function membersOf(room: string): [UserId, UserId] | undefined {
  const match = /^dm:(\d+):(\d+)$/.exec(room);
  return match ? [Number(match[1]), Number(match[2])] : undefined;
}

/** The other user of a conversation (the user themself for a self-chat). */
export function peerIn(room: string, me: UserId): UserId | undefined {
  const members = membersOf(room);
  if (!members) return undefined;
  return members[0] === me ? members[1] : members[0];
}

export class Conversations {
  readonly #core: Core;
  /** Rooms known to be recorded in the meta store (or being recorded). */
  readonly #recorded = new Map<string, Promise<void>>();
  /** Usernames never change and ids are never reused, so this cache never goes stale. */
  readonly #usernames = new Map<UserId, string>();

  constructor(core: Core) {
    this.#core = core;
  }

  /**
   * Stores a message; it is durable when this resolves. The room is recorded before the first
   * message is appended, so a stored message is always found from its users' room lists.
   */
  post(from: UserId, to: UserId, text: string): Promise<StoredMessage> {
    const room = roomOf(from, to);
    return this.#record(room, from, to).then(() => this.#core.store.messages.append(room, { from, text }));
  }

  page(room: string, options: PageOptions): Promise<StoredMessage[]> {
    return this.#core.store.messages.page(room, options);
  }

  /** The ids of the conversations a user has, as rooms. */
  async roomsOf(user: UserId): Promise<string[]> {
    const rooms = await this.#core.store.meta.listUserRooms(user);
    return rooms.filter((room) => room.kind === 'dm' && membersOf(room.id) !== undefined).map((room) => room.id);
  }

  async usernameOf(id: UserId): Promise<string> {
    const cached = this.#usernames.get(id);
    if (cached !== undefined) return cached;
    const user = await this.#core.directory.getUser(id);
    if (!user) return deletedUser;
    this.#usernames.set(id, user.username);
    return user.username;
  }

  rememberUsername(id: UserId, username: string): void {
    this.#usernames.set(id, username);
  }

  /** The wire fields of a stored message ("to" is the conversation's other user). */
  async fields(message: StoredMessage): Promise<MessageFields> {
    const to = peerIn(message.room, message.from) ?? message.from;
    return messageFields(await this.usernameOf(message.from), await this.usernameOf(to), message.text ?? '', message.ts, message.seq);
  }

  async frame(message: StoredMessage): Promise<string> {
    return JSON.stringify(await this.fields(message));
  }

  #record(room: string, a: UserId, b: UserId): Promise<void> {
    let recorded = this.#recorded.get(room);
    if (!recorded) {
      recorded = this.#ensureRoom(room, a, b);
      this.#recorded.set(room, recorded);
      recorded.catch(() => this.#recorded.delete(room));
    }
    return recorded;
  }

  async #ensureRoom(room: string, a: UserId, b: UserId): Promise<void> {
    const { meta } = this.#core.store;
    if (await meta.getRoom(room)) return;
    const members = a === b ? [a] : [Math.min(a, b), Math.max(a, b)];
    await meta.putRoom({ id: room, kind: 'dm', members, createdAt: Date.now() });
  }
}
