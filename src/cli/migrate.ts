// flashhub migrate --from <dir|redis://...> --to <dir|redis://...>: moves a whole store, e.g. the
// embedded file store into Redis when one node becomes a cluster, or back. The copying is
// store/migrate.ts; this file picks the stores, refuses what must not be done, and shows progress.
import fs from 'node:fs/promises';
import path from 'node:path';
import { Command, Option } from 'commander';
import { createLogger, redactUrl } from '../log.ts';
import { FileStore } from '../store/file/file-store.ts';
import type { StoreEvent } from '../store/file/fsutil.ts';
import { describeContents, migrateStore, type MigrationCounts, type Progress } from '../store/migrate.ts';
import { RedisStore } from '../store/redis/redis-store.ts';
import type { TransferableStore } from '../store/transfer.ts';
import { StoreError } from '../store/types.ts';
import { CliError } from './errors.ts';

type Location = { kind: 'file'; dir: string } | { kind: 'redis'; url: string; prefix: string };

interface MigrateOptions {
  from: string;
  to: string;
  redisPrefix: string;
}

export function migrateCommand(): Command {
  return new Command('migrate')
    .description('copy a whole store into another, empty one: a data directory into Redis, or back')
    .requiredOption('--from <store>', 'the store to copy: a data directory, or redis://[user:password@]host:port[/db]')
    .requiredOption('--to <store>', 'where to copy it: a new or empty data directory, or a Redis with nothing under the prefix')
    .addOption(new Option('--redis-prefix <prefix>', 'key prefix on the Redis side (config redis_prefix)').env('FLASHHUB_REDIS_PREFIX').default('fh:'))
    .addHelpText('after', `
Copies users (ids, password hashes), API clients, groups, rooms, every room's history (same seqs and
times), pending notifications (same ids), the id counters and the token signing key, so passwords,
issued tokens and history pages stay valid. Stop the server (every node) first; a data directory a
server holds is refused, and so is a target that already holds data. The source is left unchanged.

Examples:
  $ flashhub migrate --from ./flashhub-data --to redis://127.0.0.1:6379
  $ flashhub migrate --from redis://:secret@redis.internal:6379/2 --to /var/lib/flashhub --redis-prefix chat:`)
    .action(async (opts: MigrateOptions) => {
      try {
        await migrate(opts);
      } catch (error) {
        throw withoutPasswords(error, [opts.from, opts.to]);
      }
    });
}

async function migrate(opts: MigrateOptions): Promise<void> {
  const from = locate(opts.from, opts.redisPrefix);
  const to = locate(opts.to, opts.redisPrefix);
  if (sameStore(from, to)) throw new CliError('--from and --to name the same store');
  await checkSourceDir(from);
  await checkTargetDir(to);
  const source = await open(from);
  try {
    // Before the target is opened: opening a new directory creates a store in it.
    if ((await describeContents(source.export)) === undefined) {
      throw new CliError(`nothing to migrate: ${describe(from)} holds no data${from.kind === 'redis' ? ' (is --redis-prefix right?)' : ''}`);
    }
    const target = await open(to);
    try {
      const held = await describeContents(target.export);
      if (held !== undefined) throw new CliError(`${describe(to)} already holds data (${held}); migrate into an empty store`);
      const started = performance.now();
      const counts = await migrateStore(source, target, progressDisplay(process.stderr));
      printSummary(from, to, counts, (performance.now() - started) / 1000);
    } finally {
      await target.close();
    }
  } finally {
    await source.close();
  }
}

// ---- where the stores are

function locate(spec: string, prefix: string): Location {
  if (/^rediss?:\/\//i.test(spec)) return { kind: 'redis', url: spec, prefix };
  return { kind: 'file', dir: path.resolve(spec) };
}

function sameStore(a: Location, b: Location): boolean {
  if (a.kind === 'file' && b.kind === 'file') return a.dir === b.dir;
  return a.kind === 'redis' && b.kind === 'redis' && a.url === b.url && a.prefix === b.prefix;
}

/** For messages: never the password a Redis URL may carry. */
function describe(at: Location): string {
  return at.kind === 'file' ? at.dir : `${redactUrl(at.url)} (prefix ${at.prefix})`;
}

/** Opening a directory that holds no store would create an empty one there and copy nothing. */
async function checkSourceDir(at: Location): Promise<void> {
  if (at.kind !== 'file') return;
  const entries = await entriesOf(at.dir);
  if (entries === undefined) throw new CliError(`${at.dir}: no such directory`);
  if (!isDataDir(entries)) throw new CliError(`${at.dir} holds no flashhub data (no meta.json or messages/)`);
}

/** A target directory must be new, empty, or a data directory (whose store is then checked for data). */
async function checkTargetDir(at: Location): Promise<void> {
  if (at.kind !== 'file') return;
  const entries = await entriesOf(at.dir);
  if (entries !== undefined && entries.length > 0 && !isDataDir(entries)) {
    throw new CliError(`${at.dir} is not empty and is not a flashhub data directory; migrate into a new or empty directory`);
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

async function open(at: Location): Promise<TransferableStore> {
  const log = createLogger({ level: 'warn', format: 'text' });
  const report = (event: StoreEvent) => log[event.level](`store.${event.event}`, { path: event.path, ...event.detail });
  if (at.kind === 'redis') {
    try {
      return await RedisStore.open({ url: at.url, keyPrefix: at.prefix, report });
    } catch (error) {
      throw new CliError(`cannot open ${describe(at)}: ${(error as Error).message}`);
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
function withoutPasswords(error: unknown, specs: string[]): unknown {
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

// ---- progress and summary

/** A bar redrawn in place when stderr is a terminal; otherwise a line per phase, and one every few seconds. */
function progressDisplay(out: NodeJS.WriteStream): (p: Progress) => void {
  return out.isTTY ? progressBar(out) : progressLines(out);
}

const BAR_WIDTH = 30;
/** Redraws at most this often: a million messages in pages of 500 would otherwise be 2,000 redraws. */
const REDRAW_MS = 100;
const LINE_EVERY_MS = 5000;

function progressBar(out: NodeJS.WriteStream): (p: Progress) => void {
  let drawn = 0;
  return (p) => {
    const now = Date.now();
    if (!p.finished && p.done > 0 && now - drawn < REDRAW_MS) return;
    drawn = now;
    const total = Math.max(p.total, p.done);
    const share = total === 0 ? 1 : p.done / total;
    const filled = Math.round(share * BAR_WIDTH);
    const bar = '#'.repeat(filled) + '-'.repeat(BAR_WIDTH - filled);
    const percent = `${Math.floor(share * 100)}%`.padStart(4);
    out.write(`\r\x1b[K${p.phase.padEnd(13)} [${bar}] ${percent}  ${p.done}/${total}${p.finished ? '\n' : ''}`);
  };
}

function progressLines(out: NodeJS.WriteStream): (p: Progress) => void {
  let written = 0;
  return (p) => {
    const now = Date.now();
    if (p.finished) out.write(`migrate: ${p.phase} ${p.done}/${Math.max(p.total, p.done)} done\n`);
    else if (p.done === 0) written = now; // a phase starts: its first line comes after LINE_EVERY_MS
    else if (now - written >= LINE_EVERY_MS) {
      written = now;
      out.write(`migrate: ${p.phase} ${p.done}/${p.total}\n`);
    }
  };
}

function printSummary(from: Location, to: Location, counts: MigrationCounts, seconds: number): void {
  const rows: [string, string][] = [
    ['users', String(counts.users)],
    ['clients', String(counts.clients)],
    ['groups', String(counts.groups)],
    ['rooms', String(counts.rooms)],
    ['messages', `${counts.messages} (in ${counts.histories} room histories)`],
    ['notifications', String(counts.notifications)],
    ['secrets', String(counts.secrets)],
  ];
  const next =
    to.kind === 'file' ? `flashhub serve --data ${to.dir}` : `${to.prefix === 'fh:' ? '' : `FLASHHUB_REDIS_PREFIX=${to.prefix} `}flashhub serve --redis ${redactUrl(to.url)}`;
  process.stdout.write(
    [
      `migrated ${describe(from)} to ${describe(to)} in ${seconds.toFixed(1)} s`,
      ...rows.map(([kind, n]) => `  ${kind.padEnd(14)} ${n}`),
      `start the server on it with: ${next}`,
      '',
    ].join('\n'),
  );
}
