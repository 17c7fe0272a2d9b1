// Opens the store the configuration asks for. Only the file store exists so far; the Redis store
// (scale-out) will be chosen here too.
import type { Config } from '../config.ts';
import type { Logger } from '../log.ts';
import { FileStore } from './file/file-store.ts';
import type { Store } from './types.ts';

export async function openStore(config: Pick<Config, 'data' | 'sync' | 'retentionDays'>, log: Logger): Promise<Store> {
  return FileStore.open({
    dir: config.data,
    sync: config.sync,
    retention: config.retentionDays > 0 ? { maxAgeMs: config.retentionDays * 86_400_000 } : undefined,
    report: (event) => log[event.level](`store.${event.event}`, { path: event.path, ...event.detail }),
  });
}
