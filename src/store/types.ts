// The one storage contract of flashhub. The file store (embedded default) and the Redis store
// (scale-out) both implement it; hubs and core see only this file.
//
// Every write resolves only once it is durable (fdatasync for logs, fsync+rename for documents).

export type UserId = number;

export interface UserRecord {
  id: UserId;
  username: string;
  name: string;
  /** scrypt hash in the PHC-like form made by core/passwords.ts; absent for password-less users. */
  passwordHash?: string;
  admin?: boolean;
  createdAt: number;
}

export interface NewUser {
  username: string;
  name: string;
  passwordHash?: string;
  admin?: boolean;
}

export type UserPatch = Partial<Pick<UserRecord, 'name' | 'passwordHash' | 'admin'>>;

export interface ClientRecord {
  clientId: string;
  secretHash: string;
  createdAt: number;
}

export interface GroupRecord {
  /** Seed 000 addresses groups by name; the name is the id. */
  id: string;
  members: UserId[];
  createdAt: number;
}

export interface RoomRecord {
  id: string;
  kind: 'public' | 'private' | 'dm';
  name?: string;
  members: UserId[];
  createdAt: number;
}

export interface ListOptions {
  offset?: number;
  limit?: number;
}

export interface Page<T> {
  items: T[];
  total: number;
}

/** Small, slow-changing documents: users, API clients, groups, rooms. */
export interface MetaStore {
  createUser(user: NewUser): Promise<UserRecord>; // rejects StoreError 'EEXIST' on a username clash
  getUser(id: UserId): Promise<UserRecord | undefined>;
  getUserByName(username: string): Promise<UserRecord | undefined>;
  listUsers(opts?: ListOptions): Promise<Page<UserRecord>>; // by id ascending
  updateUser(id: UserId, patch: UserPatch): Promise<UserRecord | undefined>;
  deleteUser(id: UserId): Promise<boolean>; // also removes the user from groups and rooms

  putClient(client: ClientRecord): Promise<void>; // rejects 'EEXIST' if the client id is taken
  getClient(clientId: string): Promise<ClientRecord | undefined>;
  listClients(): Promise<ClientRecord[]>;
  deleteClient(clientId: string): Promise<boolean>;

  createGroup(id: string, members?: UserId[]): Promise<GroupRecord>; // rejects 'EEXIST'
  getGroup(id: string): Promise<GroupRecord | undefined>;
  listGroups(opts?: ListOptions): Promise<Page<GroupRecord>>;
  deleteGroup(id: string): Promise<boolean>;
  addGroupMember(id: string, user: UserId): Promise<boolean>; // false if the group does not exist
  removeGroupMember(id: string, user: UserId): Promise<boolean>;

  putRoom(room: RoomRecord): Promise<void>; // creates or replaces
  getRoom(id: string): Promise<RoomRecord | undefined>;
  listUserRooms(user: UserId): Promise<RoomRecord[]>;
  addRoomMember(id: string, user: UserId): Promise<boolean>;
}

export interface NewMessage {
  from: UserId;
  text?: string;
  data?: unknown;
  /** Client idempotency key: a retry with the same cid returns the original message. */
  cid?: string;
}

export interface StoredMessage extends NewMessage {
  room: string;
  /** Per room, starts at 1, gap-free except for deletes and trims. */
  seq: number;
  ts: number;
}

export interface PageOptions {
  beforeSeq?: number;
  afterSeq?: number;
  /** Default 50, at most 500. */
  limit?: number;
}

/** Room and conversation history: append-only, paged by per-room sequence. */
export interface MessageStore {
  append(room: string, msg: NewMessage): Promise<StoredMessage>;
  get(room: string, seq: number): Promise<StoredMessage | undefined>;
  /**
   * Ascending seq. With beforeSeq (or neither bound) the newest `limit` below it; with afterSeq
   * the oldest `limit` above it.
   */
  page(room: string, opts?: PageOptions): Promise<StoredMessage[]>;
  latestSeq(room: string): Promise<number>;
  count(room: string): Promise<number>;
  delete(room: string, seq: number): Promise<boolean>;
  trim(room: string, keepLast: number): Promise<number>; // returns how many were dropped
}

export interface Notification {
  /** Global, monotonically increasing (so also per user); rendered as a decimal string on the wire. */
  id: number;
  user: UserId;
  ts: number;
  payload: unknown;
}

/** Notifications wait here until their user acknowledges them. */
export interface NotificationStore {
  /** One notification per user, all durable before this resolves. */
  enqueue(users: UserId[], payload: unknown): Promise<Notification[]>;
  /** Oldest first; only ids greater than afterId when given. */
  pending(user: UserId, opts?: { afterId?: number; limit?: number }): Promise<Notification[]>;
  ack(user: UserId, ids: number[]): Promise<number>; // how many were pending and are now acknowledged
  /** Drops everything pending for a user (user deleted). */
  clear(user: UserId): Promise<number>;
}

export interface StoreStats {
  messages: number;
  pendingNotifications: number;
  segments: number;
  bytes: number;
}

export interface Store {
  readonly kind: 'file' | 'redis';
  /** False while calls would fail with EUNAVAILABLE (Redis unreachable); /readyz reports it. */
  ready(): boolean;
  readonly meta: MetaStore;
  readonly messages: MessageStore;
  readonly notifications: NotificationStore;
  /**
   * A named random secret (e.g. the token signing key), created once with `bytes` random bytes and
   * returned unchanged ever after. The file store keeps it in a 0600 file in the data directory.
   */
  secret(name: string, bytes: number): Promise<Uint8Array>;
  stats(): StoreStats;
  /** Flushes everything queued and releases files and locks. */
  close(): Promise<void>;
}

/** EUNAVAILABLE: the storage service (Redis) cannot be reached now; the call may succeed later. */
export type StoreErrorCode = 'EEXIST' | 'ELOCKED' | 'ECORRUPT' | 'EPOISONED' | 'ECLOSED' | 'EINVAL' | 'EUNAVAILABLE';

export const unavailableMessage = 'storage unavailable, try again shortly';

/** The store is unreachable for now (Redis down): the hubs answer 503, the client may retry. */
export function isUnavailable(error: unknown): boolean {
  return error instanceof StoreError && error.code === 'EUNAVAILABLE';
}

export class StoreError extends Error {
  readonly code: StoreErrorCode;

  constructor(code: StoreErrorCode, message: string) {
    super(message);
    this.name = 'StoreError';
    this.code = code;
  }
}
