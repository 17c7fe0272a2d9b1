// The one user directory of all four hubs, plus the API clients of notify. Validation and hashing
// happen here, so the admin socket, the CLI and the hubs cannot disagree about what a valid user is.
import { randomBytes } from 'node:crypto';
import { StoreError, type ClientRecord, type ListOptions, type Page, type Store, type UserId, type UserRecord } from '../store/types.ts';
import { hashPassword, maxPasswordLength, verifyNothing, verifyPassword } from './passwords.ts';

/** A user as shown outside the store: never the password hash. */
export interface PublicUser {
  id: UserId;
  username: string;
  name: string;
  admin: boolean;
  hasPassword: boolean;
  createdAt: number;
}

export interface PublicClient {
  clientId: string;
  createdAt: number;
}

export type DirectoryErrorCode = 'invalid' | 'exists' | 'not_found';

export class DirectoryError extends Error {
  readonly code: DirectoryErrorCode;
  readonly field: string | undefined;

  constructor(code: DirectoryErrorCode, message: string, field?: string) {
    super(message);
    this.name = 'DirectoryError';
    this.code = code;
    this.field = field;
  }
}

// Usernames appear in URLs (dm's /chats/:username) and room names, so they stay plain. E-mail
// addresses are allowed: seed 001's accounts are e-mail addresses.
const usernamePattern = /^[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}$/;
const clientIdPattern = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;
const controlCharacters = /[\u0000-\u001f\u007f]/;

export interface NewUserInput {
  username: string;
  name?: string;
  password?: string;
  admin?: boolean;
}

export class Directory {
  readonly #store: Store;
  readonly #removedListeners = new Set<(user: PublicUser) => void>();

  constructor(store: Store) {
    this.#store = store;
  }

  async addUser(input: NewUserInput): Promise<PublicUser> {
    const username = checkUsername(input.username);
    const name = checkName(input.name ?? username);
    const passwordHash = input.password === undefined ? undefined : await hashPassword(checkPassword(input.password));
    try {
      return toPublic(await this.#store.meta.createUser({ username, name, passwordHash, admin: input.admin === true }));
    } catch (error) {
      if (error instanceof StoreError && error.code === 'EEXIST') {
        throw new DirectoryError('exists', `user ${username} already exists`, 'username');
      }
      throw error;
    }
  }

  async getUser(id: UserId): Promise<PublicUser | undefined> {
    const user = await this.#store.meta.getUser(id);
    return user && toPublic(user);
  }

  async findUser(username: string): Promise<PublicUser | undefined> {
    const user = await this.#store.meta.getUserByName(username);
    return user && toPublic(user);
  }

  async listUsers(opts?: ListOptions): Promise<Page<PublicUser>> {
    const page = await this.#store.meta.listUsers(opts);
    return { items: page.items.map(toPublic), total: page.total };
  }

  async removeUser(username: string): Promise<PublicUser> {
    const user = await this.#required(username);
    await this.#store.meta.deleteUser(user.id);
    await this.#store.notifications.clear(user.id);
    const removed = toPublic(user);
    for (const listener of this.#removedListeners) listener(removed);
    return removed;
  }

  /** Sets or (with undefined) removes a user's password. */
  async setPassword(username: string, password: string | undefined): Promise<PublicUser> {
    const user = await this.#required(username);
    const passwordHash = password === undefined ? undefined : await hashPassword(checkPassword(password));
    const updated = await this.#store.meta.updateUser(user.id, { passwordHash });
    if (!updated) throw new DirectoryError('not_found', `no user ${username}`);
    return toPublic(updated);
  }

  /** The user when the password is right; takes as long for unknown users as for known ones. */
  async authenticate(username: string, password: string): Promise<PublicUser | undefined> {
    const user = await this.#store.meta.getUserByName(username);
    if (!user?.passwordHash) {
      await verifyNothing(password);
      return undefined;
    }
    return (await verifyPassword(password, user.passwordHash)) ? toPublic(user) : undefined;
  }

  /** Creates an API client; generates the secret when none is given. The secret is returned only here. */
  async addClient(clientId: string, secret?: string): Promise<{ clientId: string; secret: string }> {
    const id = checkClientId(clientId);
    const clear = secret ?? randomBytes(24).toString('base64url');
    if (clear.length < 16 || clear.length > maxPasswordLength) {
      throw new DirectoryError('invalid', 'a client secret has 16 to 1024 characters', 'secret');
    }
    try {
      await this.#store.meta.putClient({ clientId: id, secretHash: await hashPassword(clear), createdAt: Date.now() });
    } catch (error) {
      if (error instanceof StoreError && error.code === 'EEXIST') throw new DirectoryError('exists', `client ${id} already exists`, 'client_id');
      throw error;
    }
    return { clientId: id, secret: clear };
  }

  /** Makes sure the configured client (CLIENT_ID/CLIENT_SECRET) exists with exactly that secret. */
  async ensureClient(clientId: string, secret: string): Promise<void> {
    const existing = await this.#store.meta.getClient(clientId);
    if (existing && (await verifyPassword(secret, existing.secretHash))) return;
    if (existing) await this.#store.meta.deleteClient(clientId);
    await this.addClient(clientId, secret);
  }

  async listClients(): Promise<PublicClient[]> {
    return (await this.#store.meta.listClients()).map(({ clientId, createdAt }: ClientRecord) => ({ clientId, createdAt }));
  }

  async removeClient(clientId: string): Promise<void> {
    if (!(await this.#store.meta.deleteClient(clientId))) throw new DirectoryError('not_found', `no client ${clientId}`);
  }

  async authenticateClient(clientId: string, secret: string): Promise<boolean> {
    const client = await this.#store.meta.getClient(clientId);
    if (!client) return verifyNothing(secret);
    return verifyPassword(secret, client.secretHash);
  }

  /** Called after a user is removed (the server closes their live sessions). */
  onUserRemoved(listener: (user: PublicUser) => void): () => void {
    this.#removedListeners.add(listener);
    return () => this.#removedListeners.delete(listener);
  }

  async #required(username: string): Promise<UserRecord> {
    const user = await this.#store.meta.getUserByName(username);
    if (!user) throw new DirectoryError('not_found', `no user ${username}`);
    return user;
  }
}

export function toPublic(user: UserRecord): PublicUser {
  return {
    id: user.id,
    username: user.username,
    name: user.name,
    admin: user.admin === true,
    hasPassword: user.passwordHash !== undefined,
    createdAt: user.createdAt,
  };
}

/**
 * A user id as clients send it (a number, or digits in a string, as the seeds do); NaN for anything
 * else. Never calls a client-supplied toString/valueOf.
 */
export function userIdOf(value: unknown): number {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value > 0 ? value : NaN;
  if (typeof value === 'string' && /^\d{1,15}$/.test(value)) return Number(value) > 0 ? Number(value) : NaN;
  return NaN;
}

export function checkUsername(username: unknown): string {
  if (typeof username !== 'string' || !usernamePattern.test(username)) {
    throw new DirectoryError('invalid', 'a username has 1 to 64 letters, digits or ._@+- and starts with a letter or digit', 'username');
  }
  return username;
}

function checkName(name: unknown): string {
  if (typeof name !== 'string' || name.trim() === '' || name.length > 100 || controlCharacters.test(name)) {
    throw new DirectoryError('invalid', 'a name has 1 to 100 characters and no control characters', 'name');
  }
  return name.trim();
}

function checkPassword(password: unknown): string {
  if (typeof password !== 'string' || password.length < 3 || password.length > maxPasswordLength) {
    throw new DirectoryError('invalid', 'a password has 3 to 1024 characters', 'password');
  }
  return password;
}

function checkClientId(clientId: unknown): string {
  if (typeof clientId !== 'string' || !clientIdPattern.test(clientId)) {
    throw new DirectoryError('invalid', 'a client id has 1 to 128 letters, digits or ._:- and starts with a letter or digit', 'client_id');
  }
  return clientId;
}
