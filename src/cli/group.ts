// flashhub group add|list|remove|members: notify's groups (what POST /api/message/notify {groups} reaches).
import { Command } from 'commander';
import type { GroupSummary, PublicGroup } from '../core/groups.ts';
import type { Page } from '../store/types.ts';
import { runAdmin } from './admin-call.ts';
import { CliError } from './errors.ts';
import { configFrom, withStoreOptions } from './options.ts';
import { isoDate, printJson, printTable } from './output.ts';

export function groupCommand(): Command {
  const group = new Command('group').description("manage notify's groups of users");
  group.addHelpText('after', `
Works whether or not a server is running on the data directory, like \`flashhub user\`. Members must
already exist (\`flashhub user add\`); a refused command changes nothing.

Examples:
  $ flashhub group add support --members alice,bob
  $ flashhub group list
  $ flashhub group members support --add carol --remove bob
  $ flashhub group remove support`);

  withStoreOptions(group.command('add <group_id>'))
    .description('create a group, optionally with members')
    .option('--members <usernames>', 'comma-separated usernames of existing users', toList)
    .addHelpText('after', '\nExample:\n  $ flashhub group add support --members alice,bob --data /var/lib/flashhub')
    .action(async (groupId: string, opts: { members?: string[] }, command: Command) => {
      const created = (await runAdmin(configFrom(command).config, 'group.add', { groupId, members: opts.members ?? [] })) as PublicGroup;
      const count = created.members.length;
      process.stdout.write(`created group ${created.id} with ${count} member${count === 1 ? '' : 's'}${count ? `: ${created.members.join(', ')}` : ''}\n`);
    });

  withStoreOptions(group.command('list'))
    .description('list groups with their member counts')
    .option('--json', 'print JSON')
    .option('--offset <n>', 'skip the first n groups', toCount, 0)
    .option('--limit <n>', 'show at most n groups', toCount, 1000)
    .addHelpText('after', '\nExample:\n  $ flashhub group list --json | jq -r ".items[].id"')
    .action(async (opts: { json?: boolean; offset: number; limit: number }, command: Command) => {
      const page = (await runAdmin(configFrom(command).config, 'group.list', { offset: opts.offset, limit: opts.limit })) as Page<GroupSummary>;
      if (opts.json) return printJson(page);
      printTable(['group_id', 'members', 'created'], page.items.map((g) => [g.id, String(g.memberCount), isoDate(g.createdAt)]));
      if (page.total > page.items.length) process.stdout.write(`(${page.items.length} of ${page.total}; see --offset and --limit)\n`);
    });

  withStoreOptions(group.command('remove <group_id>'))
    .alias('rm')
    .description('delete a group (its members stay users)')
    .addHelpText('after', '\nExample:\n  $ flashhub group remove support')
    .action(async (groupId: string, _opts: unknown, command: Command) => {
      await runAdmin(configFrom(command).config, 'group.remove', { groupId });
      process.stdout.write(`removed group ${groupId}\n`);
    });

  withStoreOptions(group.command('members <group_id>'))
    .description("list a group's members; with --add or --remove, change them first")
    .option('--add <usernames>', 'comma-separated usernames to add', toList)
    .option('--remove <usernames>', 'comma-separated usernames to remove (each must be a member)', toList)
    .option('--json', 'print JSON')
    .addHelpText('after', '\nExamples:\n  $ flashhub group members support\n  $ flashhub group members support --add carol,dave --remove bob')
    .action(async (groupId: string, opts: { add?: string[]; remove?: string[]; json?: boolean }, command: Command) => {
      const result = (await runAdmin(configFrom(command).config, 'group.members', { groupId, add: opts.add, remove: opts.remove })) as PublicGroup;
      if (opts.json) return printJson(result);
      for (const username of result.members) process.stdout.write(`${username}\n`);
    });

  return group;
}

function toList(value: string, previous: string[] | undefined): string[] {
  const names = value.split(',').map((name) => name.trim()).filter((name) => name !== '');
  if (names.length === 0) throw new CliError(`no usernames in ${JSON.stringify(value)}`);
  return [...(previous ?? []), ...names];
}

function toCount(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0) throw new CliError(`not a count: ${value}`);
  return n;
}
