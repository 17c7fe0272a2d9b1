// Failed-attempt limits shared by every node (login attempts per username and per address): one
// counter per key and fixed window in Redis, expiring with its window. While Redis is unreachable
// the node falls back to its own counters, so the limit still holds per node.
import { RateLimiter, type AttemptLimiter, type RateDecision } from '../core/rate-limiter.ts';
import type { ClusterKeys } from './keys.ts';
import type { RedisLink } from './redis-link.ts';
import { COUNT_FAILURE } from './scripts.ts';

export class RedisRateLimiter implements AttemptLimiter {
  readonly #link: RedisLink;
  readonly #keys: ClusterKeys;
  readonly #name: string;
  readonly #limit: number;
  readonly #windowMs: number;
  readonly #fallback: RateLimiter;

  constructor(link: RedisLink, keys: ClusterKeys, name: string, limit: number, windowMs: number) {
    this.#link = link;
    this.#keys = keys;
    this.#name = name;
    this.#limit = limit;
    this.#windowMs = windowMs;
    this.#fallback = new RateLimiter(limit, windowMs);
  }

  async check(...keys: string[]): Promise<RateDecision> {
    const { window, retryAfter } = this.#window();
    try {
      const counts = await this.#link.commands.mget(keys.map((key) => this.#keys.limit(this.#name, window, key)));
      return { ok: counts.every((count) => Number(count ?? 0) < this.#limit), retryAfter };
    } catch {
      return this.#fallback.check(...keys);
    }
  }

  async fail(...keys: string[]): Promise<void> {
    this.#fallback.fail(...keys);
    const { window } = this.#window();
    await Promise.all(
      keys.map((key) => this.#link.script(COUNT_FAILURE, [this.#keys.limit(this.#name, window, key)], [this.#windowMs])),
    ).catch(() => {});
  }

  #window(): { window: number; retryAfter: number } {
    const now = Date.now();
    const window = Math.floor(now / this.#windowMs);
    return { window, retryAfter: Math.max(1, Math.ceil(((window + 1) * this.#windowMs - now) / 1000)) };
  }
}
