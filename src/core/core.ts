// Everything the hubs share, built once per server from the configuration and the store.
import type { Config } from '../config.ts';
import type { Logger } from '../log.ts';
import type { Store } from '../store/types.ts';
import { LocalBus, type Bus } from './bus.ts';
import { Directory } from './directory.ts';
import { Presence } from './presence.ts';
import { RecentErrors } from './recent-errors.ts';
import { Tokens } from './tokens.ts';

export interface Core {
  config: Config;
  log: Logger;
  store: Store;
  directory: Directory;
  tokens: Tokens;
  bus: Bus;
  presence: Presence;
  recentErrors: RecentErrors;
  startedAt: number;
}

export async function createCore(config: Config, store: Store, plainLog: Logger): Promise<Core> {
  const recentErrors = new RecentErrors();
  const log = recentErrors.wrap(plainLog);
  const secret = config.jwtSecret !== '' ? new TextEncoder().encode(config.jwtSecret) : await store.secret('signing', 32);
  const tokens = new Tokens(secret, {
    client: config.clientTokenTtl,
    user: config.userTokenTtl,
    stream: config.streamTokenTtl,
  });
  const directory = new Directory(store);
  const presence = new Presence(config.connectionsPerUser);
  directory.onUserRemoved((user) => presence.disconnectUser(user.id));
  if (config.clientId !== '') await directory.ensureClient(config.clientId, config.clientSecret);
  return { config, log, store, directory, tokens, bus: new LocalBus(log), presence, recentErrors, startedAt: Date.now() };
}
