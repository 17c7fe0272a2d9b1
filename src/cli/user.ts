// flashhub user add|list|remove|passwd
import { Command } from 'commander';
import type { Page } from '../store/types.ts';
import type { PublicUser } from '../core/directory.ts';
import { runAdmin } from './admin-call.ts';
import { CliError } from './errors.ts';
import { configFrom, readStdin, withStoreOptions } from './options.ts';
import { isoDate, printJson, printTable } from './output.ts';

export function userCommand(): Command {
  const user = new Command('user').description('manage the user directory shared by all hubs');
  user.addHelpText('after', `
Works whether or not a server is running on the data directory: a running server is asked through its
admin socket, otherwise the store is opened directly.

Examples:
  $ flashhub user add alice --name "Alice Liddell" --password-stdin < alice.pw
  $ flashhub user list --data /var/lib/flashhub
  $ flashhub user passwd alice --password 'n3w secret'
  $ flashhub user remove alice`);

  withStoreOptions(user.command('add <username>'))
    .description('create a user')
    .option('--name <name>', 'display name (default: the username)')
    .option('--password <password>', 'password (visible to other local users in the process list; prefer --password-stdin)')
    .option('--password-stdin', 'read the password from standard input')
    .option('--admin', 'may use the admin console')
    .addHelpText('after', '\nExample:\n  $ echo "s3cret" | flashhub user add alice --name Alice --password-stdin')
    .action(async (username: string, opts: { name?: string; password?: string; passwordStdin?: boolean; admin?: boolean }, command: Command) => {
      const password = await passwordFrom(opts);
      const created = (await runAdmin(configFrom(command).config, 'user.add', { username, name: opts.name, password, admin: opts.admin === true })) as PublicUser;
      process.stdout.write(`created user ${created.username} (id ${created.id})${created.hasPassword ? '' : ', without a password'}\n`);
    });

  withStoreOptions(user.command('list'))
    .description('list users')
    .option('--json', 'print JSON')
    .option('--offset <n>', 'skip the first n users', toCount, 0)
    .option('--limit <n>', 'show at most n users', toCount, 1000)
    .addHelpText('after', '\nExample:\n  $ flashhub user list --json | jq ".items[].username"')
    .action(async (opts: { json?: boolean; offset: number; limit: number }, command: Command) => {
      const page = (await runAdmin(configFrom(command).config, 'user.list', { offset: opts.offset, limit: opts.limit })) as Page<PublicUser>;
      if (opts.json) return printJson(page);
      printTable(
        ['id', 'username', 'name', 'admin', 'password', 'created'],
        page.items.map((u) => [String(u.id), u.username, u.name, u.admin ? 'yes' : '', u.hasPassword ? 'yes' : 'no', isoDate(u.createdAt)]),
      );
      if (page.total > page.items.length) process.stdout.write(`(${page.items.length} of ${page.total}; see --offset and --limit)\n`);
    });

  withStoreOptions(user.command('remove <username>'))
    .alias('rm')
    .description('delete a user, their pending notifications and live connections')
    .addHelpText('after', '\nExample:\n  $ flashhub user remove alice')
    .action(async (username: string, _opts: unknown, command: Command) => {
      await runAdmin(configFrom(command).config, 'user.remove', { username });
      process.stdout.write(`removed user ${username}\n`);
    });

  withStoreOptions(user.command('passwd <username>'))
    .description("set or clear a user's password")
    .option('--password <password>', 'the new password')
    .option('--password-stdin', 'read the new password from standard input')
    .option('--clear', 'remove the password (the user can then only log in where open login is on)')
    .addHelpText('after', '\nExample:\n  $ printf "%s" "$NEW_PASSWORD" | flashhub user passwd alice --password-stdin')
    .action(async (username: string, opts: { password?: string; passwordStdin?: boolean; clear?: boolean }, command: Command) => {
      const password = opts.clear ? undefined : await passwordFrom(opts);
      if (!opts.clear && password === undefined) throw new CliError('give --password, --password-stdin or --clear');
      await runAdmin(configFrom(command).config, 'user.passwd', { username, password });
      process.stdout.write(password === undefined ? `cleared the password of ${username}\n` : `changed the password of ${username}\n`);
    });

  return user;
}

async function passwordFrom(opts: { password?: string; passwordStdin?: boolean }): Promise<string | undefined> {
  if (opts.password !== undefined && opts.passwordStdin) throw new CliError('give either --password or --password-stdin, not both');
  return opts.passwordStdin ? readStdin() : opts.password;
}

function toCount(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0) throw new CliError(`not a count: ${value}`);
  return n;
}
