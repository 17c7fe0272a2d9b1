// flashhub client add|list|remove: the API clients of the notify hub (client credentials).
import { Command } from 'commander';
import type { PublicClient } from '../core/directory.ts';
import { runAdmin } from './admin-call.ts';
import { configFrom, withStoreOptions } from './options.ts';
import { isoDate, printJson, printTable } from './output.ts';

export function clientCommand(): Command {
  const client = new Command('client').description('manage API clients (the backends that push notifications)');
  client.addHelpText('after', `
Examples:
  $ flashhub client add billing-service          # prints a generated secret, once
  $ flashhub client list
  $ flashhub client remove billing-service`);

  withStoreOptions(client.command('add <client_id>'))
    .description('create an API client; without --secret one is generated and printed once')
    .option('--secret <secret>', 'use this secret (at least 16 characters)')
    .addHelpText('after', '\nExample:\n  $ flashhub client add billing-service --data /var/lib/flashhub')
    .action(async (clientId: string, opts: { secret?: string }, command: Command) => {
      const created = (await runAdmin(configFrom(command).config, 'client.add', { clientId, secret: opts.secret })) as { clientId: string; secret: string };
      process.stdout.write(`created client ${created.clientId}\n`);
      if (opts.secret === undefined) {
        process.stdout.write(`client_secret: ${created.secret}\n(store it now: it is kept only as a hash and cannot be shown again)\n`);
      }
    });

  withStoreOptions(client.command('list'))
    .description('list API clients')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }, command: Command) => {
      const clients = (await runAdmin(configFrom(command).config, 'client.list', {})) as PublicClient[];
      if (opts.json) return printJson(clients);
      printTable(['client_id', 'created'], clients.map((c) => [c.clientId, isoDate(c.createdAt)]));
    });

  withStoreOptions(client.command('remove <client_id>'))
    .alias('rm')
    .description('delete an API client; tokens it already holds expire on their own')
    .action(async (clientId: string, _opts: unknown, command: Command) => {
      await runAdmin(configFrom(command).config, 'client.remove', { clientId });
      process.stdout.write(`removed client ${clientId}\n`);
    });

  return client;
}
