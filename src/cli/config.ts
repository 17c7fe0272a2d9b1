// flashhub config: the effective configuration, where each value came from, secrets redacted.
import { Command } from 'commander';
import { describeConfig, insecureSwitches } from '../config.ts';
import { configFrom, withStoreOptions } from './options.ts';
import { printJson, printTable } from './output.ts';

export function configCommand(): Command {
  return withStoreOptions(new Command('config'))
    .description('print the effective configuration and where each value came from')
    .option('--json', 'print JSON')
    .addHelpText('after', `
Precedence: flags > FLASHHUB_* environment (and the seeds' names: PORT, HTTP_HOST, JWT_KEY, JWT_EXP,
CLIENT_ID, CLIENT_SECRET, ORIGIN) > .env in the working directory > config file > defaults.

Examples:
  $ flashhub config
  $ FLASHHUB_PORT=9000 flashhub config --config /etc/flashhub.toml --json`)
    .action((opts: { json?: boolean }, command: Command) => {
      const loaded = configFrom(command);
      const rows = describeConfig(loaded);
      if (opts.json) return printJson({ configFile: loaded.configFile ?? null, settings: rows, insecure: insecureSwitches(loaded.config) });
      printTable(['setting', 'value', 'source'], rows.map((row) => [row.key, display(row.value), row.source]));
      const insecure = insecureSwitches(loaded.config);
      if (insecure.length) process.stdout.write(`\ninsecure switches on: ${insecure.join(', ')}\n`);
    });
}

function display(value: unknown): string {
  if (Array.isArray(value)) return value.join(',');
  return value === '' ? '(empty)' : String(value);
}
