// Opens the store the configuration asks for: the embedded file store in the data directory, or,
// with redis_url, the Redis store the nodes of a cluster share.
import { mkdir } from 'node:fs/promises';
import type { Config } from '../config.ts';
import type { Logger } from '../log.ts';
import { FileStore } from './file/file-store.ts';
import type { StoreEvent } from './file/fsutil.ts';
import { RedisStore } from './redis/redis-store.ts';
import type { Store } from './types.ts';

export type StoreConfig = Pick<Config, 'data' | 'sync' | 'retentionDays' | 'redisUrl' | 'redisPrefix'>;

export async function openStore(config: StoreConfig, log: Logger): Promise<Store> {
  const report = (event: StoreEvent) =>
    log[event.level](`store.${event.event}`, { path: event.path, ...event.detail });
  if (config.redisUrl !== '') {
    // The data directory still holds the node's admin socket (owner only, like the file store's).
    await mkdir(config.data, { recursive: true, mode: 0o700 });
    return RedisStore.open({ url: config.redisUrl, keyPrefix: config.redisPrefix, report });
  }
  return FileStore.open({
    dir: config.data,
    sync: config.sync,
    retention: config.retentionDays > 0 ? { maxAgeMs: config.retentionDays * 86_400_000 } : undefined,
    report,
  });
}
