// Notify's groups as the admin tools see them: by name, with members by username. The group id rules
// live here so notify's POST /api/group and `flashhub group add` cannot disagree.
import { longerThan } from './text-length.ts';
import { DirectoryError, checkUsername, type Directory } from './directory.ts';
import { StoreError, type GroupRecord, type ListOptions, type Page, type Store, type UserId } from '../store/types.ts';

const groupIdPattern = /^[A-Za-z0-9][A-Za-z0-9._:@+-]*$/;

/** What is wrong with a group id (undefined: nothing); the length first, so a long id is not scanned. */
export function groupIdProblem(groupId: unknown, maxLength: number): string | undefined {
  if (typeof groupId === 'string' && longerThan(groupId, maxLength)) return groupIdTooLong(maxLength);
  if (typeof groupId !== 'string' || !groupIdPattern.test(groupId)) {
    return 'Group id has letters, digits or ._:@+- and starts with a letter or digit';
  }
  return undefined;
}

export function groupIdTooLong(maxLength: number): string {
  return `Group id has at most ${maxLength} characters`;
}

/** A group as the admin tools show it. */
export interface PublicGroup {
  id: string;
  members: string[];
  createdAt: number;
}

export interface GroupSummary {
  id: string;
  memberCount: number;
  createdAt: number;
}

export interface MembershipChange {
  add?: string[];
  remove?: string[];
}

/**
 * Group administration. Unlike notify's API, which creates users it is told about, the admin tools
 * refuse unknown usernames: a typo must not create a user. Every name is checked before anything
 * changes, so a refused command changes nothing.
 */
export class GroupAdmin {
  readonly #store: Store;
  readonly #directory: Directory;
  readonly #maxIdLength: number;

  constructor(store: Store, directory: Directory, maxIdLength: number) {
    this.#store = store;
    this.#directory = directory;
    this.#maxIdLength = maxIdLength;
  }

  async add(groupId: string, usernames: string[] = []): Promise<PublicGroup> {
    const problem = groupIdProblem(groupId, this.#maxIdLength);
    if (problem !== undefined) throw new DirectoryError('invalid', problem, 'group_id');
    const members = await this.#users(usernames);
    if (await this.#store.meta.getGroup(groupId)) throw new DirectoryError('exists', `group ${groupId} already exists`, 'group_id');
    try {
      return await this.#public(await this.#store.meta.createGroup(groupId, [...new Set(members)]));
    } catch (error) {
      if (error instanceof StoreError && error.code === 'EEXIST') throw new DirectoryError('exists', `group ${groupId} already exists`, 'group_id');
      throw error;
    }
  }

  async list(opts?: ListOptions): Promise<Page<GroupSummary>> {
    const page = await this.#store.meta.listGroups(opts);
    return { items: page.items.map((g) => ({ id: g.id, memberCount: g.members.length, createdAt: g.createdAt })), total: page.total };
  }

  async get(groupId: string): Promise<PublicGroup> {
    return this.#public(await this.#required(groupId));
  }

  async remove(groupId: string): Promise<PublicGroup> {
    const group = await this.#public(await this.#required(groupId));
    if (!(await this.#store.meta.deleteGroup(groupId))) throw new DirectoryError('not_found', `no group ${groupId}`);
    return group;
  }

  /** Adds and removes members (all checked first); a removed user must be a member. */
  async changeMembers(groupId: string, change: MembershipChange): Promise<PublicGroup> {
    const group = await this.#required(groupId);
    const added = await this.#users(change.add ?? []);
    const removed = await this.#users(change.remove ?? []);
    for (const [i, id] of removed.entries()) {
      if (!group.members.includes(id) && !added.includes(id)) {
        throw new DirectoryError('not_found', `${change.remove![i]} is not a member of group ${groupId}`, 'user_id');
      }
    }
    for (const id of added) {
      if (!(await this.#store.meta.addGroupMember(groupId, id))) throw new DirectoryError('not_found', `no group ${groupId}`);
    }
    for (const id of removed) await this.#store.meta.removeGroupMember(groupId, id);
    return this.get(groupId);
  }

  async #required(groupId: string): Promise<GroupRecord> {
    const group = await this.#store.meta.getGroup(groupId);
    if (!group) throw new DirectoryError('not_found', `no group ${groupId}`, 'group_id');
    return group;
  }

  /** The ids of existing users, all checked before any is used. */
  async #users(usernames: string[]): Promise<UserId[]> {
    const ids: UserId[] = [];
    const unknown: string[] = [];
    for (const username of usernames) {
      checkUsername(username);
      const user = await this.#directory.findUser(username);
      if (user) ids.push(user.id);
      else unknown.push(username);
    }
    if (unknown.length > 0) throw new DirectoryError('not_found', `no user ${unknown.join(', ')}`, 'user_id');
    return ids;
  }

  async #public(group: GroupRecord): Promise<PublicGroup> {
    const users = await Promise.all(group.members.map((id) => this.#directory.getUser(id)));
    return { id: group.id, members: users.flatMap((u) => (u ? [u.username] : [])), createdAt: group.createdAt };
  }
}
