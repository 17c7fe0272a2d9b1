// The flashhub command line: one program, one file per command group.
import { Command, CommanderError } from 'commander';
import { ConfigError } from '../config.ts';
import { DirectoryError } from '../core/directory.ts';
import { StoreError } from '../store/types.ts';
import { commit, version } from '../version.ts';
import { clientCommand } from './client.ts';
import { configCommand } from './config.ts';
import { CliError } from './errors.ts';
import { exportCommand } from './export.ts';
import { groupCommand } from './group.ts';
import { importCommand } from './import.ts';
import { migrateCommand } from './migrate.ts';
import { serveCommand } from './serve.ts';
import { tokenCommand } from './token.ts';
import { userCommand } from './user.ts';

function program(): Command {
  return new Command('flashhub')
    .description('one executable, four real-time hubs (notify, presence, chat, dm) on one port')
    .version(`flashhub ${version} (commit ${commit})`, '-v, --version', 'print the version and commit')
    .showHelpAfterError('(add --help for usage)')
    .addCommand(serveCommand())
    .addCommand(userCommand())
    .addCommand(clientCommand())
    .addCommand(groupCommand())
    .addCommand(tokenCommand())
    .addCommand(configCommand())
    .addCommand(migrateCommand())
    .addCommand(exportCommand())
    .addCommand(importCommand())
    .addHelpText('after', `
Examples:
  $ flashhub serve --port 8080                 # data in ./flashhub-data
  $ flashhub user add alice --password-stdin   # in another terminal, while the server runs
  $ flashhub export > backup.jsonl             # a backup, also while the server runs

Run \`flashhub <command> --help\` for the options and examples of each command.`);
}

function exitCodeOf(error: unknown): number {
  if (error instanceof CommanderError) return error.exitCode;
  if (error instanceof ConfigError) return 2;
  if (error instanceof CliError) return error.exitCode;
  return 1;
}

function main(): void {
  program()
    .parseAsync(process.argv)
    .catch((error: unknown) => {
      const known = error instanceof ConfigError || error instanceof CliError || error instanceof StoreError || error instanceof DirectoryError;
      const text = known || !(error instanceof Error) ? String((error as Error).message ?? error) : (error.stack ?? error.message);
      process.stderr.write(`flashhub: ${text}\n`);
      process.exitCode = exitCodeOf(error);
    });
}

main();
