// flashhub config: the effective configuration, where each value came from, secrets redacted;
// `config init` writes a commented file with every option, `config check` validates one.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { parse as parseToml } from 'smol-toml';
import { ConfigError, describeConfig, fileKey, insecureSwitches, loadConfig, options, type ConfigKey } from '../config.ts';
import { configTemplate } from './config-template.ts';
import { CliError } from './errors.ts';
import { configFrom, withStoreOptions } from './options.ts';
import { printJson, printTable } from './output.ts';

export function configCommand(): Command {
  return withStoreOptions(new Command('config'))
    .description('print the effective configuration and where each value came from; write (init) or validate (check) a config file')
    .option('--json', 'print JSON')
    .addCommand(initCommand())
    .addCommand(checkCommand())
    .addHelpText('after', `
Precedence: flags > FLASHHUB_* environment (and the seeds' names: PORT, HTTP_HOST, JWT_KEY, JWT_EXP,
CLIENT_ID, CLIENT_SECRET, ORIGIN) > .env in the working directory > config file > defaults.

Examples:
  $ flashhub config
  $ FLASHHUB_PORT=9000 flashhub config --config /etc/flashhub.toml --json
  $ flashhub config init /etc/flashhub.toml
  $ flashhub config check /etc/flashhub.toml`)
    .action((opts: { json?: boolean }, command: Command) => {
      const loaded = configFrom(command);
      const rows = describeConfig(loaded);
      if (opts.json) return printJson({ configFile: loaded.configFile ?? null, settings: rows, insecure: insecureSwitches(loaded.config) });
      printTable(['setting', 'value', 'source'], rows.map((row) => [row.key, display(row.value), row.source]));
      const insecure = insecureSwitches(loaded.config);
      if (insecure.length) process.stdout.write(`\ninsecure switches on: ${insecure.join(', ')}\n`);
    });
}

function initCommand(): Command {
  return new Command('init')
    .description('write a commented TOML config file with every option and its default (commented out)')
    .argument('[file]', 'where to write it; - or none: standard output')
    .option('--force', 'overwrite FILE if it exists')
    .addHelpText('after', `
The file is written with mode 0600 (it may come to hold secrets); an existing FILE is refused
unless --force. Uncomment a line to change a setting; the file loads as it is.

Examples:
  $ flashhub config init flashhub.toml
  $ flashhub config init > flashhub.toml
  $ flashhub config init /etc/flashhub.toml --force`)
    .action((file: string | undefined, opts: { force?: boolean }) => {
      const text = configTemplate();
      if (file === undefined || file === '-') {
        process.stdout.write(text);
        return;
      }
      try {
        writeFileSync(file, text, { flag: opts.force ? 'w' : 'wx', mode: 0o600 });
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === 'EEXIST') throw new CliError(`${file} already exists (add --force to overwrite it)`);
        throw new CliError(`cannot write ${file}: ${code ?? (error as Error).message}`);
      }
      process.stderr.write(`wrote ${file} (${options.length} settings, all commented out)\n`);
    });
}

function checkCommand(): Command {
  return new Command('check')
    .description('validate a config file as the server would; prints FILE: ok, or every problem (exit 2)')
    .argument('<file>', 'the TOML config file')
    .addHelpText('after', `
Only the file is checked: the environment, .env and defaults of this shell do not count.

Examples:
  $ flashhub config check /etc/flashhub.toml
  $ flashhub config init flashhub.toml && flashhub config check flashhub.toml`)
    .action((file: string) => {
      checkConfigFile(file);
      process.stdout.write(`${file}: ok\n`);
    });
}

/**
 * Loads FILE through loadConfig, with no environment and a working directory without .env, so only
 * the file counts. When the file has unknown keys (which loadConfig reports alone), the known keys'
 * values are validated too, so that every problem is reported at once.
 */
function checkConfigFile(file: string): void {
  const absolute = path.resolve(file);
  const empty = mkdtempSync(path.join(os.tmpdir(), 'flashhub-check-'));
  try {
    let first: ConfigError;
    try {
      loadConfig({ configFile: absolute, env: {}, flags: {}, cwd: empty });
      return;
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      first = error;
    }
    let parsed: Record<string, unknown>;
    try {
      parsed = parseToml(readFileSync(absolute, 'utf8')) as Record<string, unknown>;
    } catch {
      throw prefixed(file, first.message);
    }
    const byFileKey = new Map(options.map((spec) => [fileKey(spec.key), spec.key]));
    const unknown = Object.keys(parsed).filter((key) => !byFileKey.has(key));
    if (!unknown.length) throw prefixed(file, first.message);
    const problems = unknown.map((key) => `unknown setting ${key}`);
    const known: Partial<Record<ConfigKey, unknown>> = {};
    for (const [key, value] of Object.entries(parsed)) {
      const configKey = byFileKey.get(key);
      if (configKey) known[configKey] = value;
    }
    try {
      // The same coercion as for the file; the values are passed as flags only because loadConfig
      // refuses the whole file for its unknown keys.
      loadConfig({ flags: known, env: {}, cwd: empty });
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      problems.push(...problemLines(error.message).map((line) => line.replaceAll('(from flag)', `(from file ${absolute})`)));
    }
    throw new ConfigError(`${file}: invalid configuration:\n  ${problems.join('\n  ')}`);
  } finally {
    rmSync(empty, { recursive: true, force: true });
  }
}

function problemLines(message: string): string[] {
  const lines = message.split('\n');
  return lines[0] === 'invalid configuration:' ? lines.slice(1).map((line) => line.trim()) : [message];
}

function prefixed(file: string, message: string): ConfigError {
  return new ConfigError(message.startsWith('invalid configuration:') ? `${file}: ${message}` : message);
}

function display(value: unknown): string {
  if (Array.isArray(value)) return value.join(',');
  return value === '' ? '(empty)' : String(value);
}
