// Walking keys by pattern, for what the Redis store never needs to list while serving (every
// room, every queue, every secret) but a migration does. SCAN, never KEYS: KEYS blocks Redis for
// as long as it takes to walk the whole keyspace, and other nodes may be using that Redis.

import type { RedisConnection } from './connection.ts';

/** Keys per SCAN step: a hint to Redis, which may return more or fewer. */
const SCAN_COUNT = 1000;

/** The keys matching `pattern`, a batch per SCAN reply, each key once (SCAN may repeat one). */
export async function* scanKeys(conn: RedisConnection, pattern: string): AsyncIterable<string[]> {
  const seen = new Set<string>();
  let cursor = '0';
  do {
    conn.live();
    const [next, keys] = (await conn.call('SCAN', cursor, 'MATCH', pattern, 'COUNT', SCAN_COUNT)) as [string, string[]];
    cursor = next;
    const fresh = keys.filter((key) => !seen.has(key));
    for (const key of fresh) seen.add(key);
    if (fresh.length > 0) yield fresh;
  } while (cursor !== '0');
}

/** How many keys match `pattern`. */
export async function countKeys(conn: RedisConnection, pattern: string): Promise<number> {
  let n = 0;
  for await (const keys of scanKeys(conn, pattern)) n += keys.length;
  return n;
}
