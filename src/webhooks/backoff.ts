// When to try a failed webhook again. With the default base of 1 s the waits are about 1, 2, 4, 8, 16,
// 32 and 60 s (plus up to half again of random jitter, so that many nodes or many events failing
// together do not come back in lockstep): 8 attempts over roughly 3 to 4 minutes, long enough to ride
// out a receiver's restart or deploy, short enough that a dead receiver does not hold the queue for
// hours. A receiver that says Retry-After is given that long, up to a cap.

export const maxAttempts = 8;
/** The longest wait between two attempts, in multiples of the base. */
const capFactor = 60;
/** A Retry-After longer than this is cut to it: the event would be given up on anyway. */
export const maxRetryAfterMs = 5 * 60_000;

/** The wait after failed attempt number `attempt` (1 for the first). */
export function retryDelay(attempt: number, baseMs: number, random: () => number = Math.random): number {
  const delay = Math.min(baseMs * 2 ** (attempt - 1), baseMs * capFactor);
  return Math.round(delay * (1 + random() / 2));
}

/** Retry-After in milliseconds (delta-seconds or an HTTP date), or undefined when absent or unreadable. */
export function retryAfterMs(header: string | null, now = Date.now()): number | undefined {
  if (header === null || header.trim() === '') return undefined;
  const text = header.trim();
  // An HTTP date has a weekday and a month by name (Date.parse alone would take "-5" for a year).
  const ms = /^\d+$/.test(text) ? Number(text) * 1000 : /^[A-Za-z]{3}, /.test(text) ? Date.parse(text) - now : NaN;
  if (!Number.isFinite(ms)) return undefined;
  return Math.min(Math.max(ms, 0), maxRetryAfterMs);
}
