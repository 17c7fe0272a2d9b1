// flashhub import: writes a backup made by `flashhub export` into an empty store, keeping every
// identity, as migrate does. The reading and checking is src/backup/read.ts, the writing
// src/backup/restore.ts; this file picks the target, refuses what must not be done, and shows progress.
//
// It never writes into a store a server uses: a running server on the data directory is refused (its
// store is not empty anyway, and the lock would keep us out), and so is any store that holds data.
// A file given with --input is checked to the end before anything is written, so a damaged file
// leaves the target untouched; from stdin that cannot be, and a failure says what is left behind.
import fs from 'node:fs';
import path from 'node:path';
import { Command } from 'commander';
import { callAdmin } from '../admin/client.ts';
import { adminSocketPath } from '../admin/socket-path.ts';
import { BackupError, openBackup, type OpenedBackup } from '../backup/read.ts';
import { restoreBackup } from '../backup/restore.ts';
import type { Config } from '../config.ts';
import { checkCopied, describeContents, type MigrationCounts } from '../store/migrate.ts';
import { CliError } from './errors.ts';
import { configFrom, withStoreOptions } from './options.ts';
import { progressDisplay, type PhaseProgress } from './progress.ts';
import { transferSummary } from './transfer-summary.ts';
import { checkTargetDir, describeLocation, locationOf, openLocation, withoutPasswords, type Location } from './store-location.ts';

interface ImportOptions {
  input?: string;
  quiet?: boolean;
}

export function importCommand(): Command {
  return withStoreOptions(new Command('import'))
    .description('restore a backup made by `flashhub export` into an empty store')
    .option('--redis-prefix <prefix>', 'key prefix in Redis (config redis_prefix, default fh:)')
    .option('--input <file>', 'read the backup from this file (checked whole before anything is written) instead of stdin')
    .option('--quiet', 'show no progress')
    .addHelpText('after', `
Restores users (ids, password hashes), API clients, groups, rooms, every room's history (same seqs
and times), pending notifications (same ids), the id counters and the token signing key, so passwords,
issued tokens and history pages are as they were. The target must be empty (a new directory, an empty
Redis prefix) and no server may run on it: stop it, import, start it. Progress goes to stderr.

Examples:
  $ flashhub import --data /var/lib/flashhub-restored --input backup.jsonl
  $ gunzip -c backup.jsonl.gz | flashhub import --redis redis://127.0.0.1:6379 --redis-prefix fh:`)
    .action(async (opts: ImportOptions, command: Command) => {
      const config = configFrom(command).config;
      try {
        await importBackup(config, opts);
      } catch (error) {
        throw withoutPasswords(error, [config.redisUrl]);
      }
    });
}

async function importBackup(config: Config, opts: ImportOptions): Promise<void> {
  const at = locationOf(config);
  const name = opts.input === undefined ? 'stdin' : path.resolve(opts.input);
  if (opts.input === undefined && process.stdin.isTTY) throw new CliError('give --input FILE, or pipe a backup into stdin', 2);
  await refuseRunningServer(config, at);
  await checkTargetDir(at);
  const progress = opts.quiet ? () => {} : progressDisplay(process.stderr, 'import');
  const backup = await readable(name, async () => openBackup(opts.input === undefined ? process.stdin : await inputFile(name)));
  const started = performance.now();
  const store = await openLocation(at);
  try {
    const held = await describeContents(store.export);
    if (held !== undefined) throw new CliError(`${describeLocation(at)} already holds data (${held}); import into an empty store`);
    if (opts.input !== undefined) await readable(name, () => checkWhole(name, progress));
    const counts = await leftBehind(at, () => readable(name, () => restoreBackup(backup.records, store.import, backup.header.inventory, progress)));
    await checkCopied(store.export, counts);
    printSummary(name, backup, at, counts, (performance.now() - started) / 1000);
  } finally {
    await store.close();
  }
}

/** A server on the directory writes to its store all the time: it is stopped first, not raced. */
async function refuseRunningServer(config: Config, at: Location): Promise<void> {
  if (at.kind !== 'file') return;
  const answer = await callAdmin(adminSocketPath(config.data), 'server.info', {});
  if (answer === undefined) return;
  const pid = answer.ok ? ` (pid ${(answer.result as { pid: number }).pid})` : '';
  throw new CliError(`a server is running on ${at.dir}${pid}; stop it first: import writes into an empty store no server uses`);
}

function inputFile(file: string): Promise<fs.ReadStream> {
  const stream = fs.createReadStream(file);
  return new Promise((resolve, reject) => {
    stream.once('open', () => resolve(stream));
    stream.once('error', (error) => reject(new CliError(`cannot read ${file}: ${error.message}`)));
  });
}

/** Reads the whole file once, checking every line, before the target is touched. */
async function checkWhole(file: string, progress: (p: PhaseProgress) => void): Promise<void> {
  const { header, records } = await openBackup(await inputFile(file));
  // Every record the inventory counts, and the counters and end lines.
  const total = Object.values(header.inventory).reduce((sum, n) => sum + n, 2);
  let done = 0;
  progress({ phase: 'checking', done, total, finished: false });
  for await (const _ of records) if (++done % 1000 === 0) progress({ phase: 'checking', done, total, finished: false });
  progress({ phase: 'checking', done, total, finished: true });
}

/** A damaged backup is the user's to fix: its message names the input and the line, with no stack. */
async function readable<T>(name: string, read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (error) {
    if (error instanceof BackupError) throw new CliError(`${name}: ${error.message}`);
    throw error;
  }
}

/** Once writing began, a failure leaves part of the backup in the target; say how to start over. */
async function leftBehind<T>(at: Location, write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (error) {
    const clean = at.kind === 'file' ? `delete ${at.dir}` : `delete the keys under ${at.prefix} (redis-cli --scan --pattern '${at.prefix}*' | xargs redis-cli del)`;
    const note = `\nthe target now holds part of the backup: ${clean} before importing again`;
    if (error instanceof Error) error.message += note;
    throw error;
  }
}

function printSummary(name: string, backup: OpenedBackup, at: Location, counts: MigrationCounts, seconds: number): void {
  const { flashhub, createdAt } = backup.header;
  const title = `imported ${name} (made by flashhub ${flashhub} at ${createdAt}) into ${describeLocation(at)} in ${seconds.toFixed(1)} s`;
  process.stdout.write(transferSummary(title, counts, at));
}
