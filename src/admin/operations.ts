// The admin commands, one table used both by the admin socket of a running server and by the CLI when
// no server runs (it then opens the store itself). Arguments arrive as untyped JSON.
import type { Directory } from '../core/directory.ts';
import { DirectoryError } from '../core/directory.ts';
import type { GroupAdmin } from '../core/groups.ts';
import type { Tokens } from '../core/tokens.ts';
import type { Store } from '../store/types.ts';
import { commit, version } from '../version.ts';
import type { AdminAnswer } from './protocol.ts';
import { storeOperations } from './store-operations.ts';
import { tokenOperations } from './token-operations.ts';

export type AdminArgs = Record<string, unknown>;
export type AdminOperations = Record<string, (args: AdminArgs) => Promise<unknown>>;

export interface AdminServices {
  /** notify's groups; without it the group.* operations are unknown. */
  groups?: GroupAdmin;
  /** The server's tokens (or ones built from the store's key); without them the token.* operations fail. */
  tokens?: Tokens;
  /** The store as opened (not the metrics-timed wrapper, which has no StoreExport); without it store.export is unknown. */
  store?: Store;
}

export function adminOperations(directory: Directory, services: AdminServices = {}): AdminOperations {
  return {
    ...(services.groups ? groupOperations(services.groups) : {}),
    ...tokenOperations(directory, services.tokens),
    ...storeOperations(services.store),
    'server.info': async () => ({ pid: process.pid, version, commit }),
    'user.add': (a) =>
      directory.addUser({ username: text(a.username), name: optionalText(a.name), password: optionalText(a.password), admin: a.admin === true }),
    'user.list': (a) => directory.listUsers({ offset: optionalNumber(a.offset), limit: optionalNumber(a.limit) }),
    'user.remove': (a) => directory.removeUser(text(a.username)),
    'user.passwd': (a) => directory.setPassword(text(a.username), optionalText(a.password)),
    'client.add': (a) => directory.addClient(text(a.clientId), optionalText(a.secret)),
    'client.list': () => directory.listClients(),
    'client.remove': (a) => directory.removeClient(text(a.clientId)),
  };
}

function groupOperations(groups: GroupAdmin): AdminOperations {
  return {
    'group.add': (a) => groups.add(text(a.groupId), optionalTextList(a.members)),
    'group.list': (a) => groups.list({ offset: optionalNumber(a.offset), limit: optionalNumber(a.limit) }),
    'group.remove': (a) => groups.remove(text(a.groupId)),
    'group.members': (a) => groups.changeMembers(text(a.groupId), { add: optionalTextList(a.add), remove: optionalTextList(a.remove) }),
  };
}

export async function runOperation(operations: AdminOperations, op: string, args: AdminArgs): Promise<AdminAnswer> {
  const operation = Object.hasOwn(operations, op) ? operations[op] : undefined;
  if (!operation) return { ok: false, error: { code: 'unknown_op', message: `unknown admin operation ${op}` } };
  try {
    return { ok: true, result: await operation(args) };
  } catch (error) {
    if (error instanceof DirectoryError) return { ok: false, error: { code: error.code, message: error.message } };
    throw error;
  }
}

function text(value: unknown): string {
  if (typeof value !== 'string') throw new DirectoryError('invalid', 'expected text');
  return value;
}

function optionalText(value: unknown): string | undefined {
  return value === undefined || value === null ? undefined : text(value);
}

function optionalTextList(value: unknown): string[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value)) throw new DirectoryError('invalid', 'expected a list of text');
  return value.map(text);
}

function optionalNumber(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? value : undefined;
}
