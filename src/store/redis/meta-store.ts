// MetaStore over Redis: users, API clients, groups and rooms, all under the {meta} hash tag so
// every multi-key change is one atomic Lua script (scripts.ts) and reads are one round trip.
//
//   user:<id>            hash; fields JSON-encoded (id, usernameKey and createdAt as plain text)
//   username:<lower>     user id; SET NX is what makes usernames unique case-insensitively
//   users                sorted set of ids (score = id): listing order and total
//   user-next            the last user id handed out (ids are never reused)
//   clients              hash clientId → JSON
//   groups               sorted set of group ids (all scores 0: byte order)
//   group:<id>, room:<id>             JSON of the record without members
//   group-members:<id>, room-members:<id>, user-groups:<user>, user-rooms:<user>
//                        sorted sets scored by join order (counter `order`)

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
import type { RedisConnection } from './connection.ts';
import {
  ADD_MEMBER,
  CREATE_GROUP,
  CREATE_USER,
  DELETE_GROUP,
  DELETE_USER,
  IMPORT_USER,
  LIST_GROUPS,
  LIST_USERS,
  PUT_ROOM,
  RAISE_COUNTER,
  REMOVE_MEMBER,
  UPDATE_USER,
  USER_BY_NAME,
  USER_ROOMS,
  type ScriptDef,
} from './scripts.ts';
import { scanKeys } from './scan.ts';

const usernameKey = (username: string): string => username.toLowerCase();

/** HGETALL as a Lua reply (flat array) or as ioredis returns it (object). */
function fieldsOf(reply: unknown): Record<string, string> {
  if (!Array.isArray(reply)) return (reply ?? {}) as Record<string, string>;
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < reply.length; i += 2) out[String(reply[i])] = String(reply[i + 1]);
  return out;
}

function decodeUser(reply: unknown): UserRecord | undefined {
  const f = fieldsOf(reply);
  if (f.id === undefined || f.username === undefined) return undefined;
  const u: UserRecord = {
    id: Number(f.id),
    username: JSON.parse(f.username) as string,
    name: JSON.parse(f.name ?? '""') as string,
    createdAt: Number(f.createdAt),
  };
  if (f.passwordHash !== undefined) u.passwordHash = JSON.parse(f.passwordHash) as string;
  if (f.admin !== undefined) u.admin = JSON.parse(f.admin) as boolean;
  return u;
}

/** The JSON-encoded fields of a user hash (the script adds id, usernameKey and createdAt). */
function userFields(user: NewUser): string[] {
  const fields: string[] = ['username', JSON.stringify(user.username), 'name', JSON.stringify(user.name)];
  if (user.passwordHash !== undefined) fields.push('passwordHash', JSON.stringify(user.passwordHash));
  if (user.admin !== undefined) fields.push('admin', JSON.stringify(user.admin));
  return fields;
}

const members = (reply: unknown): UserId[] => (reply as string[]).map(Number);

function decodeGroup(json: unknown, memberReply: unknown): GroupRecord | undefined {
  if (typeof json !== 'string') return undefined;
  const g = JSON.parse(json) as Omit<GroupRecord, 'members'>;
  return { id: g.id, members: members(memberReply), createdAt: g.createdAt };
}

function decodeRoom(json: unknown, memberReply: unknown): RoomRecord | undefined {
  if (typeof json !== 'string') return undefined;
  return { ...(JSON.parse(json) as Omit<RoomRecord, 'members'>), members: members(memberReply) };
}

/** [x, members, x, members, ...] → records */
function pairsOf<T>(flat: unknown[], decode: (json: unknown, m: unknown) => T | undefined): T[] {
  const out: T[] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const r = decode(flat[i], flat[i + 1]);
    if (r !== undefined) out.push(r);
  }
  return out;
}

/** offset/limit as the file store reads them; limit -1 means all. */
function listWindow(opts: ListOptions | undefined): [offset: number, limit: number] {
  const offset = Number.isFinite(opts?.offset) ? Math.max(0, Math.floor(opts?.offset as number)) : 0;
  const limit = opts?.limit === undefined ? -1 : Number.isFinite(opts.limit) ? Math.max(0, Math.floor(opts.limit)) : -1;
  return [offset, limit];
}

const unique = (ids: UserId[]): string[] => [...new Set(ids)].map(String);

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export class RedisMetaStore implements MetaStore {
  #c: RedisConnection;

  constructor(conn: RedisConnection) {
    this.#c = conn;
  }

  /** A meta script: routed by a fixed {meta} key, told the {meta} prefix to build the rest. */
  #meta(def: ScriptDef, ...args: (string | number)[]): Promise<unknown> {
    this.#c.live();
    return this.#c.script(def, [this.#c.keys.metaAnchor], [this.#c.keys.metaPrefix, ...args]);
  }

  // ---- users

  async createUser(user: NewUser): Promise<UserRecord> {
    const createdAt = Date.now();
    const id = Number(await this.#meta(CREATE_USER, usernameKey(user.username), String(createdAt), ...userFields(user)));
    if (id === 0) throw new StoreError('EEXIST', `username "${user.username}" is taken`);
    const rec: UserRecord = { id, username: user.username, name: user.name, createdAt };
    if (user.passwordHash !== undefined) rec.passwordHash = user.passwordHash;
    if (user.admin !== undefined) rec.admin = user.admin;
    return rec;
  }

  async getUser(id: UserId): Promise<UserRecord | undefined> {
    this.#c.live();
    return decodeUser(await this.#c.call('HGETALL', this.#c.keys.user(id)));
  }

  async getUserByName(username: string): Promise<UserRecord | undefined> {
    return decodeUser(await this.#meta(USER_BY_NAME, usernameKey(username)));
  }

  async listUsers(opts?: ListOptions): Promise<Page<UserRecord>> {
    const [total, ...users] = (await this.#meta(LIST_USERS, ...listWindow(opts))) as [number, ...unknown[]];
    return { items: users.map(decodeUser).filter((u): u is UserRecord => u !== undefined), total };
  }

  async updateUser(id: UserId, patch: UserPatch): Promise<UserRecord | undefined> {
    // An explicit undefined removes an optional field (as in the file store); '' tells the script so.
    const ops: string[] = [];
    if (patch.name !== undefined) ops.push('name', JSON.stringify(patch.name));
    if ('passwordHash' in patch) ops.push('passwordHash', patch.passwordHash === undefined ? '' : JSON.stringify(patch.passwordHash));
    if ('admin' in patch) ops.push('admin', patch.admin === undefined ? '' : JSON.stringify(patch.admin));
    return decodeUser(await this.#meta(UPDATE_USER, String(id), ...ops));
  }

  async deleteUser(id: UserId): Promise<boolean> {
    return (await this.#meta(DELETE_USER, String(id))) === 1;
  }

  // ---- API clients

  async putClient(client: ClientRecord): Promise<void> {
    this.#c.live();
    const rec: ClientRecord = { clientId: client.clientId, secretHash: client.secretHash, createdAt: client.createdAt };
    const added = Number(await this.#c.call('HSETNX', this.#c.keys.clients(), client.clientId, JSON.stringify(rec)));
    if (added === 0) throw new StoreError('EEXIST', `client "${client.clientId}" exists`);
  }

  async getClient(clientId: string): Promise<ClientRecord | undefined> {
    this.#c.live();
    const json = (await this.#c.call('HGET', this.#c.keys.clients(), clientId)) as string | null;
    return json === null ? undefined : (JSON.parse(json) as ClientRecord);
  }

  async listClients(): Promise<ClientRecord[]> {
    this.#c.live();
    const all = ((await this.#c.call('HVALS', this.#c.keys.clients())) as string[]).map((j) => JSON.parse(j) as ClientRecord);
    return all.sort((a, b) => compare(a.clientId, b.clientId));
  }

  async deleteClient(clientId: string): Promise<boolean> {
    this.#c.live();
    return Number(await this.#c.call('HDEL', this.#c.keys.clients(), clientId)) === 1;
  }

  // ---- groups

  async createGroup(id: string, memberIds: UserId[] = []): Promise<GroupRecord> {
    const g: GroupRecord = { id, members: [...new Set(memberIds)], createdAt: Date.now() };
    await this.#createGroup(g);
    return g;
  }

  async #createGroup(g: GroupRecord): Promise<void> {
    const created = await this.#meta(CREATE_GROUP, g.id, JSON.stringify({ id: g.id, createdAt: g.createdAt }), ...unique(g.members));
    if (created === 0) throw new StoreError('EEXIST', `group "${g.id}" exists`);
  }

  async getGroup(id: string): Promise<GroupRecord | undefined> {
    this.#c.live();
    const k = this.#c.keys;
    const [json, m] = await this.#c.transaction([
      ['get', k.group(id)],
      ['zrange', k.groupMembers(id), 0, -1],
    ]);
    return decodeGroup(json, m);
  }

  async listGroups(opts?: ListOptions): Promise<Page<GroupRecord>> {
    const [total, ...rest] = (await this.#meta(LIST_GROUPS, ...listWindow(opts))) as [number, ...unknown[]];
    return { items: pairsOf(rest, decodeGroup), total };
  }

  async deleteGroup(id: string): Promise<boolean> {
    return (await this.#meta(DELETE_GROUP, id)) === 1;
  }

  async addGroupMember(id: string, user: UserId): Promise<boolean> {
    return (await this.#meta(ADD_MEMBER, 'group', id, String(user))) === 1;
  }

  async removeGroupMember(id: string, user: UserId): Promise<boolean> {
    return (await this.#meta(REMOVE_MEMBER, 'group', id, String(user))) === 1;
  }

  // ---- rooms

  async putRoom(room: RoomRecord): Promise<void> {
    const { members: memberIds, ...rest } = room;
    await this.#meta(PUT_ROOM, room.id, JSON.stringify(rest), ...unique(memberIds));
  }

  async getRoom(id: string): Promise<RoomRecord | undefined> {
    this.#c.live();
    const k = this.#c.keys;
    const [json, m] = await this.#c.transaction([
      ['get', k.room(id)],
      ['zrange', k.roomMembers(id), 0, -1],
    ]);
    return decodeRoom(json, m);
  }

  async listUserRooms(user: UserId): Promise<RoomRecord[]> {
    return pairsOf((await this.#meta(USER_ROOMS, String(user))) as unknown[], decodeRoom);
  }

  async addRoomMember(id: string, user: UserId): Promise<boolean> {
    return (await this.#meta(ADD_MEMBER, 'room', id, String(user))) === 1;
  }

  // ---- transfer (flashhub migrate): records exactly as given, ids and createdAt included

  /** The id the next new user gets. */
  async nextUserId(): Promise<UserId> {
    this.#c.live();
    return Number((await this.#c.call('GET', this.#c.keys.meta('user-next'))) ?? 0) + 1;
  }

  /** Every room record, a page per SCAN step (the MetaStore interface only finds rooms by member). */
  async *listRooms(): AsyncIterable<RoomRecord[]> {
    const start = this.#c.keys.room('').length;
    for await (const keys of scanKeys(this.#c, this.#c.keys.metaPattern('room:'))) {
      const rooms = await Promise.all(keys.map((key) => this.getRoom(key.slice(start))));
      yield rooms.filter((r): r is RoomRecord => r !== undefined);
    }
  }

  /** Adds a user with its id and createdAt; 'EEXIST' if the id or the username is taken. */
  async importUser(u: UserRecord): Promise<void> {
    if (!Number.isSafeInteger(u.id) || u.id < 1) throw new StoreError('EINVAL', `bad user id ${u.id}`);
    const added = await this.#meta(IMPORT_USER, String(u.id), usernameKey(u.username), String(u.createdAt), ...userFields(u));
    if (added === 0) throw new StoreError('EEXIST', `user ${u.id} "${u.username}" exists`);
  }

  /** Adds a group with its createdAt and members in order; 'EEXIST' if the id is taken. */
  importGroup(g: GroupRecord): Promise<void> {
    return this.#createGroup(g);
  }

  /** Makes new users get ids from `next` on, unless they already would. */
  async raiseNextUserId(next: UserId): Promise<void> {
    this.#c.live();
    await this.#c.script(RAISE_COUNTER, [this.#c.keys.meta('user-next')], [String(next - 1)]);
  }
}
