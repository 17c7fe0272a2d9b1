// MetaStore over one lowdb document (users, API clients, groups, rooms) written through the
// durable adapter. The document is small and slow-changing, so rewriting it whole is fine
// (storage.md §5.6); message history never goes here.
//
// Every mutation happens synchronously (check + change in memory) before the write is awaited,
// so concurrent calls are serialised by the event loop: two createUser calls with one username
// cannot both pass the uniqueness check. Memory runs ahead of the disk only until the awaited
// write finishes; a failed write poisons the store, since memory would then disagree with disk.

import { Low } from 'lowdb';
import {
  StoreError,
  type ClientRecord,
  type GroupRecord,
  type ListOptions,
  type MetaStore,
  type NewUser,
  type Page,
  type RoomRecord,
  type UserId,
  type UserPatch,
  type UserRecord,
} from '../types.ts';
import { DurableJSONFile } from './durable-json-file.ts';
import type { Reporter, SyncMode } from './fsutil.ts';

export interface MetaDoc {
  version: 1;
  nextUserId: number;
  users: Record<string, UserRecord>;
  clients: Record<string, ClientRecord>;
  groups: Record<string, GroupRecord>;
  rooms: Record<string, RoomRecord>;
}

export interface MetaStoreOptions {
  file: string;
  sync?: SyncMode;
  report?: Reporter;
}

function defaults(): MetaDoc {
  return { version: 1, nextUserId: 1, users: {}, clients: {}, groups: {}, rooms: {} };
}

const usernameKey = (username: string): string => username.toLowerCase();

function copyUser(u: UserRecord): UserRecord {
  return { ...u };
}
/** Only the fields a UserRecord has, none of them present-but-undefined. */
function userRecord(u: UserRecord): UserRecord {
  const rec: UserRecord = { id: u.id, username: u.username, name: u.name, createdAt: u.createdAt };
  if (u.passwordHash !== undefined) rec.passwordHash = u.passwordHash;
  if (u.admin !== undefined) rec.admin = u.admin;
  return rec;
}
function copyGroup(g: GroupRecord): GroupRecord {
  return { ...g, members: [...g.members] };
}
function copyRoom(r: RoomRecord): RoomRecord {
  return { ...r, members: [...r.members] };
}

function paginate<T>(all: T[], opts: ListOptions | undefined, copy: (x: T) => T): Page<T> {
  const offset = Math.max(0, Math.floor(opts?.offset ?? 0));
  const limit = opts?.limit === undefined ? all.length : Math.max(0, Math.floor(opts.limit));
  return { items: all.slice(offset, offset + limit).map(copy), total: all.length };
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

export class FileMetaStore implements MetaStore {
  #db: Low<MetaDoc>;
  #file: string;
  /** lower-cased username → id */
  #byName = new Map<string, UserId>();
  /** user → ids of rooms they are a member of (join order) */
  #userRooms = new Map<UserId, Set<string>>();
  #closed = false;
  #poisoned: unknown;
  #inflight = new Set<Promise<void>>();

  private constructor(db: Low<MetaDoc>, file: string) {
    this.#db = db;
    this.#file = file;
  }

  static async open(options: MetaStoreOptions): Promise<FileMetaStore> {
    const adapter = new DurableJSONFile<MetaDoc>(options.file, { sync: options.sync ?? 'fsync', report: options.report });
    const db = new Low<MetaDoc>(adapter, defaults());
    await db.read();
    const store = new FileMetaStore(db, adapter.path);
    store.#validate();
    store.#buildIndexes();
    return store;
  }

  #validate(): void {
    const d: unknown = this.#db.data;
    const bad = (why: string): StoreError => new StoreError('ECORRUPT', `${this.#file}: ${why}; refusing to start`);
    if (!isObject(d)) throw bad('not a metadata document');
    if (d.version !== 1) throw bad(`unsupported version ${JSON.stringify(d.version)}`);
    if (typeof d.nextUserId !== 'number' || !Number.isInteger(d.nextUserId) || d.nextUserId < 1) throw bad('bad nextUserId');
    for (const k of ['users', 'clients', 'groups', 'rooms'] as const) if (!isObject(d[k])) throw bad(`"${k}" is not an object`);
    for (const [k, u] of Object.entries(d.users as Record<string, unknown>)) {
      if (!isObject(u) || u.id !== Number(k) || typeof u.username !== 'string') throw bad(`user record "${k}" is malformed`);
    }
    for (const k of ['groups', 'rooms'] as const) {
      for (const [id, r] of Object.entries(d[k] as Record<string, unknown>)) {
        if (!isObject(r) || r.id !== id || !Array.isArray(r.members)) throw bad(`${k} record "${id}" is malformed`);
      }
    }
  }

  #buildIndexes(): void {
    const d = this.#db.data;
    for (const u of Object.values(d.users)) {
      this.#byName.set(usernameKey(u.username), u.id);
      if (u.id >= d.nextUserId) d.nextUserId = u.id + 1; // never hand out an id that exists
    }
    for (const r of Object.values(d.rooms)) for (const m of r.members) this.#joinIndex(m, r.id);
  }

  #joinIndex(user: UserId, room: string): void {
    let set = this.#userRooms.get(user);
    if (!set) this.#userRooms.set(user, (set = new Set()));
    set.add(room);
  }

  #live(): void {
    if (this.#closed) throw new StoreError('ECLOSED', 'store is closed');
  }

  /** Persists the current document; callers have already mutated it synchronously. */
  async #commit(): Promise<void> {
    if (this.#poisoned !== undefined) {
      throw new StoreError('EPOISONED', `${this.#file}: an earlier write failed (${String(this.#poisoned)}); restart to recover`);
    }
    const p = this.#db.write();
    this.#inflight.add(p);
    try {
      await p;
    } catch (err) {
      this.#poisoned ??= err;
      throw new StoreError('EPOISONED', `${this.#file}: write failed: ${(err as Error).message}`);
    } finally {
      this.#inflight.delete(p);
    }
  }

  /** Runs a synchronous check-and-mutate, then persists if it changed something. */
  async #mutate<R>(fn: (d: MetaDoc) => { result: R; changed: boolean }): Promise<R> {
    this.#live();
    if (this.#poisoned !== undefined) {
      throw new StoreError('EPOISONED', `${this.#file}: an earlier write failed (${String(this.#poisoned)}); restart to recover`);
    }
    const { result, changed } = fn(this.#db.data);
    if (changed) await this.#commit();
    return result;
  }

  // ---- users

  createUser(user: NewUser): Promise<UserRecord> {
    return this.#mutate((d) => {
      const key = usernameKey(user.username);
      if (this.#byName.has(key)) throw new StoreError('EEXIST', `username "${user.username}" is taken`);
      const rec: UserRecord = { id: d.nextUserId, username: user.username, name: user.name, createdAt: Date.now() };
      if (user.passwordHash !== undefined) rec.passwordHash = user.passwordHash;
      if (user.admin !== undefined) rec.admin = user.admin;
      d.nextUserId++;
      d.users[rec.id] = rec;
      this.#byName.set(key, rec.id);
      return { result: copyUser(rec), changed: true };
    });
  }

  async getUser(id: UserId): Promise<UserRecord | undefined> {
    this.#live();
    const u = this.#db.data.users[id];
    return u && copyUser(u);
  }

  async getUserByName(username: string): Promise<UserRecord | undefined> {
    this.#live();
    const id = this.#byName.get(usernameKey(username));
    const u = id === undefined ? undefined : this.#db.data.users[id];
    return u && copyUser(u);
  }

  async listUsers(opts?: ListOptions): Promise<Page<UserRecord>> {
    this.#live();
    // Integer-like keys enumerate in ascending numeric order; sort anyway so it never depends on that.
    const all = Object.values(this.#db.data.users).sort((a, b) => a.id - b.id);
    return paginate(all, opts, copyUser);
  }

  updateUser(id: UserId, patch: UserPatch): Promise<UserRecord | undefined> {
    return this.#mutate((d) => {
      const u = d.users[id];
      if (!u) return { result: undefined, changed: false };
      if (patch.name !== undefined) u.name = patch.name;
      // An explicit undefined removes an optional field (e.g. making a user password-less).
      if ('passwordHash' in patch) {
        if (patch.passwordHash === undefined) delete u.passwordHash;
        else u.passwordHash = patch.passwordHash;
      }
      if ('admin' in patch) {
        if (patch.admin === undefined) delete u.admin;
        else u.admin = patch.admin;
      }
      return { result: copyUser(u), changed: true };
    });
  }

  deleteUser(id: UserId): Promise<boolean> {
    return this.#mutate((d) => {
      const u = d.users[id];
      if (!u) return { result: false, changed: false };
      delete d.users[id];
      if (this.#byName.get(usernameKey(u.username)) === id) this.#byName.delete(usernameKey(u.username));
      for (const g of Object.values(d.groups)) removeFrom(g.members, id);
      for (const roomId of this.#userRooms.get(id) ?? []) {
        const r = d.rooms[roomId];
        if (r) removeFrom(r.members, id);
      }
      this.#userRooms.delete(id);
      return { result: true, changed: true };
    });
  }

  // ---- API clients

  putClient(client: ClientRecord): Promise<void> {
    return this.#mutate((d) => {
      if (Object.hasOwn(d.clients, client.clientId)) throw new StoreError('EEXIST', `client "${client.clientId}" exists`);
      setOwn(d.clients, client.clientId, { clientId: client.clientId, secretHash: client.secretHash, createdAt: client.createdAt });
      return { result: undefined, changed: true };
    });
  }

  async getClient(clientId: string): Promise<ClientRecord | undefined> {
    this.#live();
    const c = Object.hasOwn(this.#db.data.clients, clientId) ? this.#db.data.clients[clientId] : undefined;
    return c && { ...c };
  }

  async listClients(): Promise<ClientRecord[]> {
    this.#live();
    return Object.values(this.#db.data.clients)
      .sort((a, b) => compare(a.clientId, b.clientId))
      .map((c) => ({ ...c }));
  }

  deleteClient(clientId: string): Promise<boolean> {
    return this.#mutate((d) => {
      if (!Object.hasOwn(d.clients, clientId)) return { result: false, changed: false };
      delete d.clients[clientId];
      return { result: true, changed: true };
    });
  }

  // ---- groups

  createGroup(id: string, members: UserId[] = []): Promise<GroupRecord> {
    return this.#mutate((d) => {
      if (Object.hasOwn(d.groups, id)) throw new StoreError('EEXIST', `group "${id}" exists`);
      const g: GroupRecord = { id, members: [...new Set(members)], createdAt: Date.now() };
      setOwn(d.groups, id, g);
      return { result: copyGroup(g), changed: true };
    });
  }

  async getGroup(id: string): Promise<GroupRecord | undefined> {
    this.#live();
    const g = Object.hasOwn(this.#db.data.groups, id) ? this.#db.data.groups[id] : undefined;
    return g && copyGroup(g);
  }

  async listGroups(opts?: ListOptions): Promise<Page<GroupRecord>> {
    this.#live();
    const all = Object.values(this.#db.data.groups).sort((a, b) => compare(a.id, b.id));
    return paginate(all, opts, copyGroup);
  }

  deleteGroup(id: string): Promise<boolean> {
    return this.#mutate((d) => {
      if (!Object.hasOwn(d.groups, id)) return { result: false, changed: false };
      delete d.groups[id];
      return { result: true, changed: true };
    });
  }

  addGroupMember(id: string, user: UserId): Promise<boolean> {
    return this.#mutate((d) => {
      const g = Object.hasOwn(d.groups, id) ? d.groups[id] : undefined;
      if (!g) return { result: false, changed: false };
      if (g.members.includes(user)) return { result: true, changed: false };
      g.members.push(user);
      return { result: true, changed: true };
    });
  }

  /** True if the user was a member and is now removed. */
  removeGroupMember(id: string, user: UserId): Promise<boolean> {
    return this.#mutate((d) => {
      const g = Object.hasOwn(d.groups, id) ? d.groups[id] : undefined;
      if (!g || !removeFrom(g.members, user)) return { result: false, changed: false };
      return { result: true, changed: true };
    });
  }

  // ---- rooms

  putRoom(room: RoomRecord): Promise<void> {
    return this.#mutate((d) => {
      this.#replaceRoom(d, room);
      return { result: undefined, changed: true };
    });
  }

  #replaceRoom(d: MetaDoc, room: RoomRecord): void {
    const old = Object.hasOwn(d.rooms, room.id) ? d.rooms[room.id] : undefined;
    if (old) for (const m of old.members) this.#userRooms.get(m)?.delete(room.id);
    const r = copyRoom(room);
    r.members = [...new Set(r.members)];
    setOwn(d.rooms, room.id, r);
    for (const m of r.members) this.#joinIndex(m, r.id);
  }

  async getRoom(id: string): Promise<RoomRecord | undefined> {
    this.#live();
    const r = Object.hasOwn(this.#db.data.rooms, id) ? this.#db.data.rooms[id] : undefined;
    return r && copyRoom(r);
  }

  async listUserRooms(user: UserId): Promise<RoomRecord[]> {
    this.#live();
    const out: RoomRecord[] = [];
    for (const id of this.#userRooms.get(user) ?? []) {
      const r = this.#db.data.rooms[id];
      if (r) out.push(copyRoom(r));
    }
    return out;
  }

  /** False if the room does not exist; true if the user is (now) a member. */
  addRoomMember(id: string, user: UserId): Promise<boolean> {
    return this.#mutate((d) => {
      const r = Object.hasOwn(d.rooms, id) ? d.rooms[id] : undefined;
      if (!r) return { result: false, changed: false };
      if (r.members.includes(user)) return { result: true, changed: false };
      r.members.push(user);
      this.#joinIndex(user, id);
      return { result: true, changed: true };
    });
  }

  // ---- transfer (flashhub migrate): records exactly as given, ids and createdAt included

  /** The id the next new user gets. */
  get nextUserId(): UserId {
    return this.#db.data.nextUserId;
  }

  /** Every room record by id (the MetaStore interface only finds rooms by member). */
  async listRooms(): Promise<RoomRecord[]> {
    this.#live();
    return Object.values(this.#db.data.rooms)
      .sort((a, b) => compare(a.id, b.id))
      .map(copyRoom);
  }

  /** Adds users with their ids; 'EEXIST' (and nothing written) if an id or username is taken. */
  importUsers(users: UserRecord[]): Promise<void> {
    return this.#mutate((d) => {
      const names = new Set<string>();
      for (const u of users) {
        const key = usernameKey(u.username);
        if (!Number.isSafeInteger(u.id) || u.id < 1) throw new StoreError('EINVAL', `bad user id ${u.id}`);
        if (Object.hasOwn(d.users, u.id) || this.#byName.has(key) || names.has(key)) {
          throw new StoreError('EEXIST', `user ${u.id} "${u.username}" exists`);
        }
        names.add(key);
      }
      for (const u of users) {
        d.users[u.id] = userRecord(u);
        this.#byName.set(usernameKey(u.username), u.id);
        if (u.id >= d.nextUserId) d.nextUserId = u.id + 1;
      }
      return { result: undefined, changed: users.length > 0 };
    });
  }

  /** Adds API clients; 'EEXIST' (and nothing written) if an id is taken. One write for all of them. */
  importClients(clients: ClientRecord[]): Promise<void> {
    return this.#mutate((d) => {
      refuseTaken(d.clients, clients.map((c) => c.clientId), 'client');
      for (const c of clients) setOwn(d.clients, c.clientId, { clientId: c.clientId, secretHash: c.secretHash, createdAt: c.createdAt });
      return { result: undefined, changed: clients.length > 0 };
    });
  }

  /** Adds groups with their createdAt and members in order; 'EEXIST' (and nothing written) on a taken id. */
  importGroups(groups: GroupRecord[]): Promise<void> {
    return this.#mutate((d) => {
      refuseTaken(d.groups, groups.map((g) => g.id), 'group');
      for (const g of groups) setOwn(d.groups, g.id, { id: g.id, members: [...new Set(g.members)], createdAt: g.createdAt });
      return { result: undefined, changed: groups.length > 0 };
    });
  }

  /** putRoom for many rooms in one write. */
  importRooms(rooms: RoomRecord[]): Promise<void> {
    return this.#mutate((d) => {
      for (const room of rooms) this.#replaceRoom(d, room);
      return { result: undefined, changed: rooms.length > 0 };
    });
  }

  /** Makes new users get ids from `next` on, unless they already would. */
  raiseNextUserId(next: UserId): Promise<void> {
    return this.#mutate((d) => {
      if (next <= d.nextUserId) return { result: undefined, changed: false };
      d.nextUserId = next;
      return { result: undefined, changed: true };
    });
  }

  // ---- lifecycle

  counts(): { users: number; clients: number; groups: number; rooms: number } {
    const d = this.#db.data;
    return {
      users: Object.keys(d.users).length,
      clients: Object.keys(d.clients).length,
      groups: Object.keys(d.groups).length,
      rooms: Object.keys(d.rooms).length,
    };
  }

  /** Waits for writes in flight; later calls reject with ECLOSED. */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.allSettled([...this.#inflight]);
  }
}

function removeFrom(list: UserId[], user: UserId): boolean {
  const i = list.indexOf(user);
  if (i < 0) return false;
  list.splice(i, 1);
  return true;
}

/** Checks a whole batch before any of it is written, so a refused import changes nothing. */
function refuseTaken(record: Record<string, unknown>, ids: string[], what: string): void {
  const seen = new Set<string>();
  for (const id of ids) {
    if (Object.hasOwn(record, id) || seen.has(id)) throw new StoreError('EEXIST', `${what} "${id}" exists`);
    seen.add(id);
  }
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Stores `value` under `key` as an own property, whatever the key: a plain assignment with the id
 * "__proto__" would replace the object's prototype and the record would be lost.
 */
function setOwn<T>(record: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(record, key, { value, writable: true, enumerable: true, configurable: true });
}
