// The options every command shares (--data, --config), and the step from parsed flags to the one
// configuration object.
import type { Command } from 'commander';
import { loadConfig, type ConfigKey, type LoadedConfig } from '../config.ts';

/** Commander's attribute name → configuration key, where they differ. */
const renamed: Record<string, ConfigKey> = { origin: 'origins', redis: 'redisUrl' };

export function withStoreOptions(command: Command): Command {
  return command
    .option('--data <dir>', 'data directory (default ./flashhub-data, or FLASHHUB_DATA)')
    .option('--redis <url>', 'use the cluster store in this Redis instead of the data directory (or FLASHHUB_REDIS_URL)')
    .option('--config <file>', 'TOML config file (or FLASHHUB_CONFIG)');
}

/** Only the flags the user typed count as flags; commander's own defaults must not outrank env or file. */
export function configFrom(command: Command): LoadedConfig {
  const values = command.opts<Record<string, unknown>>();
  const flags: Partial<Record<ConfigKey, unknown>> = {};
  for (const [name, value] of Object.entries(values)) {
    if (name === 'config' || command.getOptionValueSource(name) !== 'cli') continue;
    flags[renamed[name] ?? (name as ConfigKey)] = value;
  }
  return loadConfig({ flags, configFile: values.config as string | undefined });
}

export async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}
