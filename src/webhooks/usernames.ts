// Usernames for payloads. Hubs emit a user's id and, where they had it at hand, the username; the
// rest are looked up once in the directory and remembered (a username never changes and an id is
// never reused, so the cache cannot go stale; it is only bounded).
import type { ActivityUser } from '../core/activity.ts';
import type { Directory } from '../core/directory.ts';
import type { Logger } from '../log.ts';
import type { UserId } from '../store/types.ts';
import type { UserData } from './payload.ts';

const maxRemembered = 10_000;

export class Usernames {
  readonly #directory: Directory;
  readonly #log: Logger;
  readonly #known = new Map<UserId, string>();

  constructor(directory: Directory, log: Logger) {
    this.#directory = directory;
    this.#log = log;
  }

  async of(user: ActivityUser): Promise<UserData> {
    const username = user.username ?? this.#known.get(user.id) ?? (await this.#lookUp(user.id));
    if (username !== undefined) this.#remember(user.id, username);
    return { id: user.id, username: username ?? null };
  }

  async #lookUp(id: UserId): Promise<string | undefined> {
    try {
      return (await this.#directory.getUser(id))?.username;
    } catch (error) {
      // The store is unreachable (Redis down): the event still goes, without the name.
      this.#log.warn('webhook.username_lookup_failed', { userId: id, error });
      return undefined;
    }
  }

  #remember(id: UserId, username: string): void {
    if (this.#known.size >= maxRemembered && !this.#known.has(id)) this.#known.clear();
    this.#known.set(id, username);
  }
}
