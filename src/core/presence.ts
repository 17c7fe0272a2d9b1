// Who is connected, on every hub: the one presence registry. A user is online while at least one of
// their sessions is bound, on any hub and (in a cluster) on any node, and counts once however many
// devices they use. This node's sessions are kept here; what other nodes hold is fed in by the
// cluster (cluster/cluster-presence.ts) as the set of nodes each user is online on.
import type { UserId } from '../store/types.ts';
import { closeReasons, type CloseReason, type Session, type Transport } from './session.ts';

/**
 * 'local': a session of this node caused the change (or this node found a dead node); 'remote':
 * another node reported it. Whatever must happen once per cluster (e.g. a chat event) acts on
 * 'local' only, and whatever each node's clients must see acts on both.
 */
export type PresenceCause = 'local' | 'remote';
export type PresenceListener = (userId: UserId, online: boolean, cause: PresenceCause) => void;
/** How many sessions a user holds on this node, after every bind and unbind. */
export type LocalCountListener = (userId: UserId, count: number) => void;

/** Told of every session that opens and closes on this node (connection logs, metrics). */
export interface SessionWatcher {
  opened(session: Session): void;
  /** Called while the session still has its user, before the registry lets go of it. */
  closed(session: Session, reason: CloseReason): void;
}

export class ConnectionLimitError extends Error {
  constructor(limit: number) {
    super(`at most ${limit} connections per user`);
    this.name = 'ConnectionLimitError';
  }
}

export class Presence {
  readonly #connectionsPerUser: number;
  readonly #sessions = new Set<Session>();
  readonly #byUser = new Map<UserId, Set<Session>>();
  readonly #listeners = new Set<PresenceListener>();
  /** Users shown online without a connection: only --demo's seed users, as in seed 002's data. */
  readonly #held = new Set<UserId>();
  /** The other nodes each user is online on. */
  #remote = new Map<UserId, Set<string>>();
  readonly #countListeners = new Set<LocalCountListener>();
  readonly #watchers = new Set<SessionWatcher>();
  #countElsewhere: (userId: UserId) => Promise<number> = async () => 0;

  constructor(connectionsPerUser: number) {
    this.#connectionsPerUser = connectionsPerUser;
  }

  /** Tracks a live session (authenticated or not) until it closes. */
  attach(session: Session): void {
    this.#sessions.add(session);
    for (const watcher of this.#watchers) watcher.opened(session);
    session.onClose((reason) => {
      for (const watcher of this.#watchers) watcher.closed(session, reason);
      this.#detach(session);
    });
  }

  watchSessions(watcher: SessionWatcher): () => void {
    this.#watchers.add(watcher);
    return () => this.#watchers.delete(watcher);
  }

  /** Marks the session as the user's; throws ConnectionLimitError past the per-user limit. */
  bind(session: Session, userId: UserId): void {
    if (session.userId === userId) return;
    if (session.userId !== undefined) this.unbind(session);
    const mine = this.#byUser.get(userId) ?? new Set<Session>();
    if (mine.size >= this.#connectionsPerUser) throw new ConnectionLimitError(this.#connectionsPerUser);
    const wasOnline = this.isOnline(userId);
    mine.add(session);
    session.userId = userId;
    if (mine.size === 1) this.#byUser.set(userId, mine);
    this.#countChanged(userId, mine.size);
    if (!wasOnline) this.#emit(userId, true, 'local');
  }

  /** The session stays open but belongs to nobody (e.g. presence's GOODBYE). */
  unbind(session: Session): void {
    const userId = session.userId;
    if (userId === undefined) return;
    session.userId = undefined;
    const mine = this.#byUser.get(userId);
    if (!mine?.delete(session)) return;
    if (mine.size === 0) this.#byUser.delete(userId);
    this.#countChanged(userId, mine.size);
    if (!this.isOnline(userId)) this.#emit(userId, false, 'local');
  }

  isOnline(userId: UserId): boolean {
    return this.#byUser.has(userId) || this.#held.has(userId) || this.#remote.has(userId);
  }

  onlineUsers(): UserId[] {
    if (this.#held.size === 0 && this.#remote.size === 0) return [...this.#byUser.keys()];
    return [...new Set([...this.#byUser.keys(), ...this.#held, ...this.#remote.keys()])];
  }

  /** Whether one more connection of the user stays within the limit, counting every node's. */
  async hasRoomFor(userId: UserId, except?: Session): Promise<boolean> {
    const mine = this.sessionsOf(userId);
    const here = mine.size - (except !== undefined && mine.has(except) ? 1 : 0);
    if (here >= this.#connectionsPerUser) return false;
    return here + (await this.#countElsewhere(userId)) < this.#connectionsPerUser;
  }

  // ---- what the cluster feeds in and reads out

  /** Users with sessions on this node, and how many each. */
  localCounts(): Map<UserId, number> {
    return new Map([...this.#byUser].map(([userId, sessions]) => [userId, sessions.size]));
  }

  onLocalCount(listener: LocalCountListener): () => void {
    this.#countListeners.add(listener);
    return () => this.#countListeners.delete(listener);
  }

  /** How the cluster counts a user's connections on the other nodes, for hasRoomFor. */
  countElsewhereWith(count: (userId: UserId) => Promise<number>): void {
    this.#countElsewhere = count;
  }

  /** Another node reports that a user came online there or left it. */
  setRemote(node: string, userId: UserId, online: boolean, cause: PresenceCause = 'remote'): void {
    const wasOnline = this.isOnline(userId);
    const nodes = this.#remote.get(userId);
    if (online) {
      if (nodes) nodes.add(node);
      else this.#remote.set(userId, new Set([node]));
    } else if (nodes?.delete(node) && nodes.size === 0) {
      this.#remote.delete(userId);
    }
    if (this.isOnline(userId) !== wasOnline) this.#emit(userId, !wasOnline, cause);
  }

  /** The users another node holds, as far as this node knows. */
  usersOn(node: string): UserId[] {
    return [...this.#remote].filter(([, nodes]) => nodes.has(node)).map(([userId]) => userId);
  }

  /** A node is gone (stopped, or its heartbeat expired): its users are offline unless online elsewhere. */
  dropNode(node: string, cause: PresenceCause): void {
    for (const [userId, nodes] of [...this.#remote]) if (nodes.has(node)) this.setRemote(node, userId, false, cause);
  }

  /** Replaces what is known of other nodes (after a resync), announcing only what changed. */
  replaceRemote(view: Map<UserId, Set<string>>, cause: PresenceCause): void {
    const before = new Set(this.onlineUsers());
    this.#remote = view;
    const after = new Set(this.onlineUsers());
    for (const userId of before) if (!after.has(userId)) this.#emit(userId, false, cause);
    for (const userId of after) if (!before.has(userId)) this.#emit(userId, true, cause);
  }

  /** Keeps a user online with no connection (demo data only). */
  hold(userId: UserId): void {
    if (this.#held.has(userId)) return;
    const wasOnline = this.isOnline(userId);
    this.#held.add(userId);
    if (!wasOnline) this.#emit(userId, true, 'local');
  }

  sessionsOf(userId: UserId): ReadonlySet<Session> {
    return this.#byUser.get(userId) ?? new Set();
  }

  /** Closes every session of a user (e.g. the user was removed). */
  disconnectUser(userId: UserId): void {
    for (const session of [...this.sessionsOf(userId)]) session.close(closeReasons.userRemoved);
  }

  onChange(listener: PresenceListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Live sessions by "hub/transport", for health and metrics. */
  counts(): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const session of this.#sessions) {
      const key = `${session.hub}/${session.transport satisfies Transport}`;
      counts[key] = (counts[key] ?? 0) + 1;
    }
    return counts;
  }

  get size(): number {
    return this.#sessions.size;
  }

  closeAll(): void {
    for (const session of [...this.#sessions]) session.close(closeReasons.shutdown);
  }

  #detach(session: Session): void {
    this.unbind(session);
    this.#sessions.delete(session);
  }

  #emit(userId: UserId, online: boolean, cause: PresenceCause): void {
    for (const listener of this.#listeners) listener(userId, online, cause);
  }

  #countChanged(userId: UserId, count: number): void {
    for (const listener of this.#countListeners) listener(userId, count);
  }
}
