// flashhub migrate --from <dir|redis://...> --to <dir|redis://...>: moves a whole store, e.g. the
// embedded file store into Redis when one node becomes a cluster, or back. The copying is
// store/migrate.ts; this file picks the stores, refuses what must not be done, and shows progress.
import { Command, Option } from 'commander';
import { describeContents, migrateStore, type MigrationCounts } from '../store/migrate.ts';
import { CliError } from './errors.ts';
import { progressDisplay } from './progress.ts';
import { transferSummary } from './transfer-summary.ts';
import { checkSourceDir, checkTargetDir, describeLocation, locate, openLocation, sameStore, withoutPasswords, type Location } from './store-location.ts';

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
  const source = await openLocation(from);
  try {
    // Before the target is opened: opening a new directory creates a store in it.
    if ((await describeContents(source.export)) === undefined) {
      throw new CliError(`nothing to migrate: ${describeLocation(from)} holds no data${from.kind === 'redis' ? ' (is --redis-prefix right?)' : ''}`);
    }
    const target = await openLocation(to);
    try {
      const held = await describeContents(target.export);
      if (held !== undefined) throw new CliError(`${describeLocation(to)} already holds data (${held}); migrate into an empty store`);
      const started = performance.now();
      const counts = await migrateStore(source, target, progressDisplay(process.stderr, 'migrate'));
      printSummary(from, to, counts, (performance.now() - started) / 1000);
    } finally {
      await target.close();
    }
  } finally {
    await source.close();
  }
}

function printSummary(from: Location, to: Location, counts: MigrationCounts, seconds: number): void {
  process.stdout.write(transferSummary(`migrated ${describeLocation(from)} to ${describeLocation(to)} in ${seconds.toFixed(1)} s`, counts, to));
}
