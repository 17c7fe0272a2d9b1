// user.online and user.offline without the flicker of a page reload or a phone switching networks:
// online is announced at once; offline only once the user stayed away for the delay. A user back
// within the delay announces nothing at all (no offline, and no second online).
//
// Once per cluster: the node where the change happened (cause 'local') announces it. Every node also
// notes the offlines other nodes report, so that a user who drops on node A and comes back on node B
// within the delay is silent on both: B sees a pending offline and stays quiet, and A, told by the
// cluster that the user is back, drops its timer. A's timer and B's end at slightly different times
// (the cluster's latency), so B forgets its note a little earlier than A would send: a reconnect in
// that last moment may announce a second online, but never loses one. A node that stops announces
// its pending offlines at once and tells the others (announcedElsewhere), so that users who move to
// another node are announced online there.
import type { PresenceCause } from '../core/presence.ts';
import type { UserId } from '../store/types.ts';

/** `at`: when the change happened (an offline is announced the delay later). */
export type Announce = (userId: UserId, online: boolean, at: number) => void;

interface PendingOffline {
  timer: NodeJS.Timeout;
  /** This node saw the user go: it announces the offline. */
  announce: boolean;
  since: number;
}

/** How much earlier a node forgets an offline another node will announce. */
const remoteMarginMs = (delayMs: number) => Math.min(1000, delayMs / 4);

export class OfflineDebouncer {
  readonly #delayMs: number;
  readonly #announce: Announce;
  readonly #isOnline: (userId: UserId) => boolean;
  readonly #pending = new Map<UserId, PendingOffline>();

  constructor(delayMs: number, announce: Announce, isOnline: (userId: UserId) => boolean) {
    this.#delayMs = delayMs;
    this.#announce = announce;
    this.#isOnline = isOnline;
  }

  /** Every presence change, of any cause. */
  change(userId: UserId, online: boolean, cause: PresenceCause): void {
    const pending = this.#pending.get(userId);
    if (pending) {
      clearTimeout(pending.timer);
      this.#pending.delete(userId);
    }
    if (online) {
      // Back within the delay: nothing happened, as far as the receivers know.
      if (!pending && cause === 'local') this.#announce(userId, true, Date.now());
      return;
    }
    const announce = cause === 'local';
    const since = Date.now();
    if (this.#delayMs === 0) {
      if (announce) this.#announce(userId, false, since);
      return;
    }
    const delay = announce ? this.#delayMs : this.#delayMs - remoteMarginMs(this.#delayMs);
    const timer = setTimeout(() => this.#expire(userId), delay);
    timer.unref();
    this.#pending.set(userId, { timer, announce, since });
  }

  /**
   * Announces every offline still waiting, at once (the server stops: its users are gone); returns
   * those users, for the other nodes' announcedElsewhere.
   */
  flush(): UserId[] {
    const announced: UserId[] = [];
    for (const [userId, pending] of this.#pending) {
      clearTimeout(pending.timer);
      if (!pending.announce) continue;
      this.#announce(userId, false, pending.since);
      announced.push(userId);
    }
    this.#pending.clear();
    return announced;
  }

  /**
   * A stopping node announced these offlines without waiting (its flush). The note this node keeps
   * for such a user must not swallow their return any more, and a user already back here (their
   * online was swallowed, or this node never saw them go) is announced online again.
   */
  announcedElsewhere(userIds: readonly UserId[], isHeldHere: (userId: UserId) => boolean): void {
    for (const userId of userIds) {
      const pending = this.#pending.get(userId);
      if (pending?.announce) continue;
      if (pending) {
        clearTimeout(pending.timer);
        this.#pending.delete(userId);
      }
      if (isHeldHere(userId)) this.#announce(userId, true, Date.now());
    }
  }

  #expire(userId: UserId): void {
    const pending = this.#pending.get(userId);
    this.#pending.delete(userId);
    // isOnline: a change this node missed (e.g. during a cluster resync) must not send a false offline.
    if (pending?.announce && !this.#isOnline(userId)) this.#announce(userId, false, pending.since);
  }
}
