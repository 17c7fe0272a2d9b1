// Runs an admin operation where it must run: through the admin socket when a server owns the data
// directory (two processes must never write one store), or on the store directly when none does.
import { callAdmin } from '../admin/client.ts';
import { adminOperations, runOperation, type AdminArgs } from '../admin/operations.ts';
import { adminSocketPath } from '../admin/socket-path.ts';
import { joinCluster } from '../cluster/cluster.ts';
import type { Config } from '../config.ts';
import { createTokens } from '../core/core.ts';
import { Directory } from '../core/directory.ts';
import { GroupAdmin } from '../core/groups.ts';
import { createLogger } from '../log.ts';
import { openStore } from '../store/open.ts';
import { StoreError } from '../store/types.ts';
import { CliError } from './errors.ts';

export async function runAdmin(config: Config, op: string, args: AdminArgs): Promise<unknown> {
  const answer = (await callAdmin(adminSocketPath(config.data), op, args)) ?? (await runLocally(config, op, args));
  if (!answer.ok) throw new CliError(answer.error.message);
  return answer.result;
}

async function runLocally(config: Config, op: string, args: AdminArgs) {
  const log = createLogger({ level: 'warn', format: 'text' });
  let store;
  try {
    store = await openStore(config, log);
  } catch (error) {
    if (error instanceof StoreError && error.code === 'ELOCKED') {
      throw new CliError(`${error.message}\n(its admin socket did not answer; is it still starting?)`);
    }
    throw error;
  }
  // A cluster's nodes must hear of a removal made beside them, to close the user's sessions.
  const cluster = config.redisUrl === '' ? undefined : await joinCluster(config, log);
  const directory = new Directory(store);
  if (cluster) directory.onUserRemoved((user) => cluster.bus.publish('users.removed', user.id));
  try {
    // Only token commands need the signing key (reading it may create it, as the server would).
    const tokens = op.startsWith('token.') ? await createTokens(config, store) : undefined;
    return await runOperation(adminOperations(directory, { groups: new GroupAdmin(store, directory, config.roomNameLength), tokens }), op, args);
  } finally {
    await cluster?.leave();
    await store.close();
  }
}
