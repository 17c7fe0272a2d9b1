// Who is connected, on every hub: the one presence registry. A user is online while at least one of
// their sessions is bound, on any hub, and counts once however many devices they use.
import type { UserId } from '../store/types.ts';
import { closeReasons, type Session, type Transport } from './session.ts';

export type PresenceListener = (userId: UserId, online: boolean) => void;

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

  constructor(connectionsPerUser: number) {
    this.#connectionsPerUser = connectionsPerUser;
  }

  /** Tracks a live session (authenticated or not) until it closes. */
  attach(session: Session): void {
    this.#sessions.add(session);
    session.onClose(() => this.#detach(session));
  }

  /** Marks the session as the user's; throws ConnectionLimitError past the per-user limit. */
  bind(session: Session, userId: UserId): void {
    if (session.userId === userId) return;
    if (session.userId !== undefined) this.unbind(session);
    const mine = this.#byUser.get(userId) ?? new Set<Session>();
    if (mine.size >= this.#connectionsPerUser) throw new ConnectionLimitError(this.#connectionsPerUser);
    mine.add(session);
    session.userId = userId;
    if (mine.size === 1) {
      const wasOnline = this.isOnline(userId);
      this.#byUser.set(userId, mine);
      if (!wasOnline) this.#emit(userId, true);
    }
  }

  /** The session stays open but belongs to nobody (e.g. presence's GOODBYE). */
  unbind(session: Session): void {
    const userId = session.userId;
    if (userId === undefined) return;
    session.userId = undefined;
    const mine = this.#byUser.get(userId);
    if (!mine?.delete(session) || mine.size > 0) return;
    this.#byUser.delete(userId);
    if (!this.#held.has(userId)) this.#emit(userId, false);
  }

  isOnline(userId: UserId): boolean {
    return this.#byUser.has(userId) || this.#held.has(userId);
  }

  onlineUsers(): UserId[] {
    if (this.#held.size === 0) return [...this.#byUser.keys()];
    return [...new Set([...this.#byUser.keys(), ...this.#held])];
  }

  /** Keeps a user online with no connection (demo data only). */
  hold(userId: UserId): void {
    if (this.#held.has(userId)) return;
    const wasOnline = this.isOnline(userId);
    this.#held.add(userId);
    if (!wasOnline) this.#emit(userId, true);
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

  #emit(userId: UserId, online: boolean): void {
    for (const listener of this.#listeners) listener(userId, online);
  }
}
