// Moving a whole store into another one (`flashhub migrate`): a file store into Redis and back.
// Each store implementation reads everything it holds out through StoreExport and writes records
// made elsewhere through StoreImport, keeping every identity: user ids, message seqs and
// timestamps, notification ids, secrets. migrate.ts copies from one to the other and sees only
// these interfaces.
//
// The Store interface cannot do this: createUser picks the id, append picks the seq and the time,
// enqueue picks the id, and nothing lists all rooms or every pending notification.
//
// Everything that can be large comes in pages, so a million messages are never in memory at once.

import type {
  ClientRecord,
  GroupRecord,
  MessageStore,
  Notification,
  NotificationStore,
  RoomRecord,
  Store,
  StoredMessage,
  UserId,
  UserRecord,
} from './types.ts';

/** How many of each kind a store holds. */
export interface Inventory {
  users: number;
  clients: number;
  groups: number;
  /** Room records (public, private, dm). */
  rooms: number;
  /** Rooms with history, including internal ones without a room record (e.g. `dm-cursors:<id>`). */
  histories: number;
  messages: number;
  notifications: number;
  secrets: number;
}

/** One room's history as a whole: its messages are read separately, page by page. */
export interface RoomHistory {
  room: string;
  /** The last seq the room handed out; new messages continue above it even if it was deleted. */
  lastSeq: number;
  /** Messages it keeps now. */
  messages: number;
}

export interface NamedSecret {
  name: string;
  value: Uint8Array;
}

/** Where new ids start, so ids made after a migration never repeat one made before it. */
export interface IdCounters {
  nextUserId: UserId;
  nextNotificationId: number;
}

/** Reads out everything a store holds. Pages come in a stable order: ids, seqs ascending. */
export interface StoreExport {
  inventory(): Promise<Inventory>;
  users(): AsyncIterable<UserRecord[]>;
  clients(): AsyncIterable<ClientRecord[]>;
  groups(): AsyncIterable<GroupRecord[]>;
  rooms(): AsyncIterable<RoomRecord[]>;
  histories(): AsyncIterable<RoomHistory[]>;
  /** One room's messages, oldest first. */
  messages(room: string): AsyncIterable<StoredMessage[]>;
  notifications(): AsyncIterable<Notification[]>;
  secrets(): AsyncIterable<NamedSecret[]>;
  counters(): Promise<IdCounters>;
}

/**
 * Writes records exactly as given. Meant for an empty store: a user id, username, group, client or
 * notification id that exists already is StoreError 'EEXIST'; rooms are created or replaced as by
 * putRoom. Each call is durable when it resolves.
 */
export interface StoreImport {
  users(users: UserRecord[]): Promise<void>;
  clients(clients: ClientRecord[]): Promise<void>;
  groups(groups: GroupRecord[]): Promise<void>;
  rooms(rooms: RoomRecord[]): Promise<void>;
  /** Seqs ascending and above every seq the room has handed out, else 'EINVAL'. */
  messages(room: string, messages: StoredMessage[]): Promise<void>;
  /** The room hands out seqs above lastSeq from now on (messages at the end may have been deleted). */
  roomSeq(room: string, lastSeq: number): Promise<void>;
  notifications(notifications: Notification[]): Promise<void>;
  /** A secret that exists with other bytes is 'EEXIST': replacing a signing key voids every token. */
  secrets(secrets: NamedSecret[]): Promise<void>;
  /** Raises the counters (never lowers them). */
  counters(counters: IdCounters): Promise<void>;
}

/** Both sides: what a migration needs of a store. */
export interface Transferable {
  readonly export: StoreExport;
  readonly import: StoreImport;
}

/** A store that can be migrated from and into. */
export interface TransferableStore extends Store, Transferable {}

// ---- paging helpers shared by the implementations

/** The most a MessageStore page may hold. */
export const MESSAGE_PAGE = 500;
/** Notifications per page: a MessageStore-like bound, and what one Redis script call takes. */
export const NOTIFICATION_PAGE = 1000;

/** Every message of a room through the public paging API, oldest first. */
export async function* historyPages(store: MessageStore, room: string): AsyncIterable<StoredMessage[]> {
  for (let after = 0; ; ) {
    const page = await store.page(room, { afterSeq: after, limit: MESSAGE_PAGE });
    if (page.length === 0) return;
    yield page;
    after = (page[page.length - 1] as StoredMessage).seq;
  }
}

/**
 * Every pending notification of the given users, packed into pages across users: one page per
 * user would make a million users with one notification each a million writes.
 */
export async function* pendingPages(store: NotificationStore, users: AsyncIterable<UserId[]> | Iterable<UserId[]>): AsyncIterable<Notification[]> {
  let page: Notification[] = [];
  for await (const batch of users) {
    for (const user of batch) {
      for (let after = 0; ; ) {
        const found = await store.pending(user, { afterId: after, limit: NOTIFICATION_PAGE });
        if (found.length === 0) break;
        page.push(...found);
        after = (found[found.length - 1] as Notification).id;
        while (page.length >= NOTIFICATION_PAGE) {
          yield page.slice(0, NOTIFICATION_PAGE);
          page = page.slice(NOTIFICATION_PAGE);
        }
      }
    }
  }
  if (page.length > 0) yield page;
}

/** An array in pages of `size`. */
export function* slices<T>(items: T[], size: number): Iterable<T[]> {
  for (let i = 0; i < items.length; i += size) yield items.slice(i, i + size);
}
