// Where a store is, for the commands that move whole stores (migrate, export, import): a data
// directory or a Redis URL and key prefix. Opening one here is for the store itself, not a server:
// a data directory a running server holds is refused (its lock), with the advice to stop it.
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../config.ts';
import { createLogger, redactUrl } from '../log.ts';
import { FileStore } from '../store/file/file-store.ts';
import type { StoreEvent } from '../store/file/fsutil.ts';
import { RedisStore } from '../store/redis/redis-store.ts';
import type { TransferableStore } from '../store/transfer.ts';
import { StoreError } from '../store/types.ts';
import { CliError } from './errors.ts';

export type Location = { kind: 'file'; dir: string } | { kind: 'redis'; url: string; prefix: string };

/** The store a command's configuration names: Redis when redis_url is set, else the data directory. */
export function locationOf(config: Pick<Config, 'data' | 'redisUrl' | 'redisPrefix'>): Location {
  return config.redisUrl !== '' ? { kind: 'redis', url: config.redisUrl, prefix: config.redisPrefix } : { kind: 'file', dir: path.resolve(config.data) };
}

export function locate(spec: string, prefix: string): Location {
  if (/^rediss?:\/\//i.test(spec)) return { kind: 'redis', url: spec, prefix };
  return { kind: 'file', dir: path.resolve(spec) };
}

export function sameStore(a: Location, b: Location): boolean {
  if (a.kind === 'file' && b.kind === 'file') return a.dir === b.dir;
  return a.kind === 'redis' && b.kind === 'redis' && a.url === b.url && a.prefix === b.prefix;
}

/** For messages: never the password a Redis URL may carry. */
export function describeLocation(at: Location): string {
  return at.kind === 'file' ? at.dir : `${redactUrl(at.url)} (prefix ${at.prefix})`;
}

/** Opening a directory that holds no store would create an empty one there and copy nothing. */
export async function checkSourceDir(at: Location): Promise<void> {
  if (at.kind !== 'file') return;
  const entries = await entriesOf(at.dir);
  if (entries === undefined) throw new CliError(`${at.dir}: no such directory`);
  if (!isDataDir(entries)) throw new CliError(`${at.dir} holds no flashhub data (no meta.json or messages/)`);
}

/** A target directory must be new, empty, or a data directory (whose store is then checked for data). */
export async function checkTargetDir(at: Location): Promise<void> {
  if (at.kind !== 'file') return;
  const entries = await entriesOf(at.dir);
  if (entries !== undefined && entries.length > 0 && !isDataDir(entries)) {
    throw new CliError(`${at.dir} is not empty and is not a flashhub data directory; use a new or empty directory`);
  }
}

const isDataDir = (entries: string[]): boolean => entries.includes('meta.json') || entries.includes('messages');

async function entriesOf(dir: string): Promise<string[] | undefined> {
  try {
    return await fs.readdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

export async function openLocation(at: Location): Promise<TransferableStore> {
  const log = createLogger({ level: 'warn', format: 'text' });
  const report = (event: StoreEvent) => log[event.level](`store.${event.event}`, { path: event.path, ...event.detail });
  if (at.kind === 'redis') {
    try {
      return await RedisStore.open({ url: at.url, keyPrefix: at.prefix, report });
    } catch (error) {
      throw new CliError(`cannot open ${describeLocation(at)}: ${(error as Error).message}`);
    }
  }
  try {
    return await FileStore.open({ dir: at.dir, report });
  } catch (error) {
    if (error instanceof StoreError && error.code === 'ELOCKED') {
      throw new CliError(`${error.message}\nstop the server first: it keeps writing to its store while it runs`);
    }
    throw error;
  }
}

/** Errors from a Redis client could quote a URL; whatever they say, a password in it becomes ***. */
export function withoutPasswords(error: unknown, specs: string[]): unknown {
  const secrets = specs.flatMap((spec) => {
    if (!/^rediss?:\/\//i.test(spec)) return [];
    try {
      const url = new URL(spec);
      return [url.password, decodeURIComponent(url.password)].filter((p) => p !== '');
    } catch {
      return [];
    }
  });
  if (secrets.length === 0 || !(error instanceof Error)) return error;
  const scrub = (text: string): string => secrets.reduce((t, secret) => t.split(secret).join('***'), text);
  error.message = scrub(error.message);
  if (error.stack !== undefined) error.stack = scrub(error.stack);
  return error;
}
