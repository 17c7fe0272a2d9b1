// Fixed-window counters of failed attempts (e.g. logins per minute per username and per address).
// Only failures count: guessing needs failures, while a client that logs in right is never throttled.
// Windows are dropped wholesale when they roll over, so memory is bounded by one window's keys.

export interface RateDecision {
  ok: boolean;
  /** Seconds until the window rolls over, for Retry-After. */
  retryAfter: number;
}

/** What the hubs use: this in-process limiter, or the cluster's (cluster/redis-rate-limiter.ts). */
export interface AttemptLimiter {
  check(...keys: string[]): RateDecision | Promise<RateDecision>;
  fail(...keys: string[]): void | Promise<void>;
}

export class RateLimiter implements AttemptLimiter {
  readonly #limit: number;
  readonly #windowMs: number;
  readonly #now: () => number;
  #windowStart = 0;
  #counts = new Map<string, number>();

  constructor(limit: number, windowMs: number, now: () => number = Date.now) {
    this.#limit = limit;
    this.#windowMs = windowMs;
    this.#now = now;
  }

  /** Refused when any key already used up its failures in this window. */
  check(...keys: string[]): RateDecision {
    this.#roll();
    const ok = keys.every((key) => (this.#counts.get(key) ?? 0) < this.#limit);
    return { ok, retryAfter: Math.max(1, Math.ceil((this.#windowStart + this.#windowMs - this.#now()) / 1000)) };
  }

  fail(...keys: string[]): void {
    this.#roll();
    for (const key of keys) this.#counts.set(key, (this.#counts.get(key) ?? 0) + 1);
  }

  #roll(): void {
    const now = this.#now();
    if (now - this.#windowStart < this.#windowMs) return;
    this.#windowStart = now - ((now - this.#windowStart) % this.#windowMs);
    this.#counts = new Map();
  }
}
