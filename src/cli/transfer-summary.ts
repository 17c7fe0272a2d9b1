// What migrate and import print when they are done: a count per kind, and how to serve the result.
import { redactUrl } from '../log.ts';
import type { MigrationCounts } from '../store/migrate.ts';
import type { Location } from './store-location.ts';

export function transferSummary(title: string, counts: MigrationCounts, to: Location): string {
  const rows: [string, string][] = [
    ['users', String(counts.users)],
    ['clients', String(counts.clients)],
    ['groups', String(counts.groups)],
    ['rooms', String(counts.rooms)],
    ['messages', `${counts.messages} (in ${counts.histories} room histories)`],
    ['notifications', String(counts.notifications)],
    ['secrets', String(counts.secrets)],
  ];
  const next =
    to.kind === 'file' ? `flashhub serve --data ${to.dir}` : `${to.prefix === 'fh:' ? '' : `FLASHHUB_REDIS_PREFIX=${to.prefix} `}flashhub serve --redis ${redactUrl(to.url)}`;
  return [title, ...rows.map(([kind, n]) => `  ${kind.padEnd(14)} ${n}`), `start the server on it with: ${next}`, ''].join('\n');
}
