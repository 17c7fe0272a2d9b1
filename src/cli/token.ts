// flashhub token user|verify: mint a token for tests and scripts, and explain one. Both use the real
// signing key: a running server's through its admin socket, or the store's when none runs. The key
// itself is never printed.
import { Command, Option } from 'commander';
import type { IssuedToken, TokenReport } from '../admin/token-operations.ts';
import { ttlBounds } from '../admin/token-operations.ts';
import { runAdmin } from './admin-call.ts';
import { CliError } from './errors.ts';
import { configFrom, withStoreOptions } from './options.ts';
import { printJson } from './output.ts';

export function tokenCommand(): Command {
  const token = new Command('token').description('mint a token for an existing user, or explain one');
  token.addHelpText('after', `
Works whether or not a server is running on the data directory: a running server signs and checks
through its admin socket, otherwise the signing key is read from the store.

Examples:
  $ curl -H "Authorization: Bearer $(flashhub token user alice)" http://localhost:8080/dm/users
  $ curl -N "http://localhost:8080/notify/sse?token=$(flashhub token user alice --kind stream)"
  $ flashhub token verify eyJhbGciOiJIUzI1NiIs...`);

  const user = ttlBounds('user');
  const stream = ttlBounds('stream');
  withStoreOptions(token.command('user <username>'))
    .description('print a freshly signed token of an existing user')
    .addOption(new Option('--kind <kind>', 'user (API, WebSocket) or stream (EventSource ?token=)').choices(['user', 'stream']).default('user'))
    .option('--ttl <seconds>', `lifetime (default: user_token_ttl or stream_token_ttl; user ${user.min}-${user.max}, stream ${stream.min}-${stream.max})`, toSeconds)
    .option('--json', 'print {token, kind, expiresAt}')
    .addHelpText('after', '\nExamples:\n  $ TOKEN=$(flashhub token user alice --ttl 600)\n  $ flashhub token user alice --kind stream --json --data /var/lib/flashhub')
    .action(async (username: string, opts: { kind: 'user' | 'stream'; ttl?: number; json?: boolean }, command: Command) => {
      const { min, max } = ttlBounds(opts.kind);
      if (opts.ttl !== undefined && (opts.ttl < min || opts.ttl > max)) {
        throw new CliError(`--ttl of a ${opts.kind} token is from ${min} to ${max} seconds`);
      }
      const issued = (await runAdmin(configFrom(command).config, 'token.issue', { username, kind: opts.kind, ttl: opts.ttl })) as IssuedToken;
      if (opts.json) return printJson(issued);
      process.stdout.write(`${issued.token}\n`);
    });

  withStoreOptions(token.command('verify <jwt>'))
    .description('explain a token: kind, subject, times, and whether it is valid now (exit 0) or why not (exit 1)')
    .option('--json', 'print the explanation as JSON')
    .addHelpText('after', '\nExamples:\n  $ flashhub token verify "$TOKEN"\n  $ flashhub token verify "$TOKEN" --json | jq .expiresAt')
    .action(async (jwt: string, opts: { json?: boolean }, command: Command) => {
      const report = (await runAdmin(configFrom(command).config, 'token.verify', { token: jwt })) as TokenReport;
      if (!report.valid) process.exitCode = 1;
      if (opts.json) return printJson(report);
      printReport(report);
    });

  return token;
}

function printReport(report: TokenReport): void {
  const unverified = report.signatureValid ? '' : ' (unverified)';
  const rows: [string, string | undefined][] = [
    ['valid', report.valid ? 'yes' : `no: ${report.problem ?? 'invalid'}`],
    ['kind', report.kind === undefined ? undefined : report.kind + unverified],
    ['subject', subjectOf(report) + (report.subject === undefined ? '' : unverified)],
    ['issued', report.issuedAt],
    ['expires', report.expiresAt === undefined ? undefined : `${report.expiresAt} (${relative(report.expiresAt)})`],
    ['token id', report.tokenId],
  ];
  for (const [label, value] of rows) if (value !== undefined && value !== '') process.stdout.write(`${`${label}:`.padEnd(10)}${value}\n`);
}

function subjectOf(report: TokenReport): string {
  if (report.subject === undefined) return '';
  if (report.kind === 'client') return `client ${report.subject}`;
  if (report.user) return `user ${report.user.id} (${report.user.username})`;
  const name = report.username === undefined ? '' : ` (${report.username})`;
  return report.signatureValid && (report.kind === 'user' || report.kind === 'stream') ? `user ${report.subject}${name}, no longer in the directory` : `${report.subject}${name}`;
}

function relative(iso: string): string {
  const seconds = Math.round((Date.parse(iso) - Date.now()) / 1000);
  const span = Math.abs(seconds);
  const text = span < 120 ? `${span} s` : span < 7200 ? `${Math.round(span / 60)} min` : span < 172_800 ? `${Math.round(span / 3600)} h` : `${Math.round(span / 86_400)} days`;
  return seconds >= 0 ? `in ${text}` : `${text} ago`;
}

function toSeconds(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n)) throw new CliError(`not a whole number of seconds: ${value}`);
  return n;
}
