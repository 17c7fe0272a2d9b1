// flashhub export: writes everything a store holds as a backup file (src/backup/format.ts) to stdout
// or a file. A data directory a running server holds is read by that server and streamed over its
// admin socket (the store's lock keeps this process out, and two processes must never open one
// store); with no server, the store is opened here. A Redis store is read directly either way: the
// export only reads, a page at a time.
import { once } from 'node:events';
import fs from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Writable } from 'node:stream';
import { Command } from 'commander';
import { callAdminStream } from '../admin/client.ts';
import { adminSocketPath } from '../admin/socket-path.ts';
import { backupText } from '../backup/write.ts';
import type { Config } from '../config.ts';
import type { Inventory } from '../store/transfer.ts';
import { CliError } from './errors.ts';
import { configFrom, withStoreOptions } from './options.ts';
import { checkSourceDir, describeLocation, locationOf, openLocation, withoutPasswords, type Location } from './store-location.ts';

interface ExportOptions {
  output?: string;
  quiet?: boolean;
}

/** Where the backup's text comes from, and what to say about it. */
interface Source {
  chunks: AsyncIterable<string>;
  via: string;
  close(): Promise<void>;
}

export function exportCommand(): Command {
  return withStoreOptions(new Command('export'))
    .description('write a backup of the whole store as JSON lines (to stdout), also while the server runs')
    .option('--redis-prefix <prefix>', 'key prefix in Redis (config redis_prefix, default fh:)')
    .option('--output <file>', 'write the backup to this file (mode 0600, replaced only once complete) instead of stdout')
    .option('--quiet', 'print no summary on stderr')
    .addHelpText('after', `
Writes users (with password hashes), API clients, groups, rooms, every room's history, pending
notifications, the id counters and the token signing key: the backup is as secret as the store, keep
it private. While a server runs on the data directory, the export goes through it (its admin socket)
and the server keeps serving; records written meanwhile may or may not be in the backup. A Redis
store is read directly. Restore with \`flashhub import\` into an empty store.

Examples:
  $ flashhub export --data /var/lib/flashhub > backup.jsonl
  $ flashhub export --data ./flashhub-data --output backup-$(date +%F).jsonl
  $ flashhub export --redis redis://:secret@redis.internal:6379/0 | gzip > backup.jsonl.gz`)
    .action(async (opts: ExportOptions, command: Command) => {
      const config = configFrom(command).config;
      try {
        await exportBackup(config, opts);
      } catch (error) {
        throw withoutPasswords(error, [config.redisUrl]);
      }
    });
}

async function exportBackup(config: Config, opts: ExportOptions): Promise<void> {
  const at = locationOf(config);
  const started = performance.now();
  const source = await sourceOf(config, at);
  let last = '';
  async function* remembered(): AsyncGenerator<string> {
    for await (const chunk of source.chunks) yield (last = chunk);
  }
  try {
    await (opts.output === undefined ? writeTo(process.stdout, remembered()) : writeFile(opts.output, remembered()));
  } finally {
    await source.close();
  }
  if (!opts.quiet) process.stderr.write(summary(at, source.via, endCounts(last), (performance.now() - started) / 1000, opts.output));
}

async function sourceOf(config: Config, at: Location): Promise<Source> {
  if (at.kind === 'file') {
    const answer = await callAdminStream(adminSocketPath(config.data), 'store.export', {});
    if (answer !== undefined && !answer.ok) {
      const older = answer.error.code === 'unknown_op' ? ' (is it an older flashhub? stop it, or upgrade it)' : '';
      throw new CliError(`the server running on ${at.dir} cannot export: ${answer.error.message}${older}`);
    }
    if (answer !== undefined) return { chunks: failingClearly(answer.chunks), via: 'through the running server', close: async () => {} };
    await checkSourceDir(at);
  }
  const store = await openLocation(at);
  return { chunks: backupText(store.export, store.kind), via: 'from the store', close: () => store.close() };
}

/** The server going away or failing midway is said in a sentence, not a stack trace. */
async function* failingClearly(chunks: AsyncIterable<string>): AsyncGenerator<string> {
  try {
    yield* chunks;
  } catch (error) {
    throw new CliError(`the export through the running server failed: ${(error as Error).message}`);
  }
}

/** Writes every chunk, waiting whenever the destination asks to (a pipe into gzip, a slow disk). */
async function writeTo(out: Writable, chunks: AsyncIterable<string>): Promise<void> {
  // A reader that goes away (`| head`) fails a write later, as an event: keep it for the loop (and
  // keep listening after it, or a late one would end the process with a stack trace).
  let failed: Error | undefined;
  const onError = (error: Error) => (failed ??= error);
  out.on('error', onError);
  try {
    for await (const chunk of chunks) {
      if (failed) throw failed;
      if (!out.write(chunk)) await once(out, 'drain');
    }
    if (failed) throw failed;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EPIPE') throw new CliError('the output was closed before the backup was complete');
    throw error;
  }
}

/** Into a temporary file beside it, renamed once complete and flushed: never half a backup under the name. */
async function writeFile(file: string, chunks: AsyncIterable<string>): Promise<void> {
  const target = path.resolve(file);
  const partial = `${target}.partial-${process.pid}`;
  const out = fs.createWriteStream(partial, { mode: 0o600, flush: true });
  try {
    await once(out, 'open');
    await writeTo(out, chunks);
    out.end();
    await once(out, 'close');
    await rename(partial, target);
  } catch (error) {
    out.destroy();
    await rm(partial, { force: true });
    if ((error as NodeJS.ErrnoException).syscall === 'open') throw new CliError(`cannot write ${target}: ${(error as Error).message}`);
    throw error;
  }
}

/** The counts of the end record, the stream's last line. */
function endCounts(lastChunk: string): Inventory {
  const line = lastChunk.trimEnd().split('\n').pop() ?? '';
  return (JSON.parse(line) as { record: Inventory }).record;
}

function summary(at: Location, via: string, counts: Inventory, seconds: number, output: string | undefined): string {
  const kinds = [
    `${counts.users} users`,
    `${counts.clients} clients`,
    `${counts.groups} groups`,
    `${counts.rooms} rooms`,
    `${counts.messages} messages in ${counts.histories} room histories`,
    `${counts.notifications} notifications`,
    `${counts.secrets} secrets`,
  ];
  const into = output === undefined ? '' : ` into ${path.resolve(output)}`;
  return `exported ${describeLocation(at)} ${via}${into} in ${seconds.toFixed(1)} s: ${kinds.join(', ')}\n`;
}
