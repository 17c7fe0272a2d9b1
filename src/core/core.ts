// Everything the hubs share, built once per server from the configuration and the store.
import { joinCluster, type Cluster } from '../cluster/cluster.ts';
import type { Config } from '../config.ts';
import type { Logger } from '../log.ts';
import type { Store, UserId } from '../store/types.ts';
import { Activity } from './activity.ts';
import type { Bus } from './bus.ts';
import { Counters } from './counters.ts';
import { Directory } from './directory.ts';
import { Presence } from './presence.ts';
import type { AttemptLimiter } from './rate-limiter.ts';
import { RecentErrors } from './recent-errors.ts';
import { Tokens, type TokenClaims } from './tokens.ts';

export interface Core {
  config: Config;
  log: Logger;
  store: Store;
  directory: Directory;
  tokens: Tokens;
  bus: Bus;
  presence: Presence;
  /** This node among the others (a cluster of one without redis_url). */
  cluster: Cluster;
  /** Failed logins per minute, per username and per address, counted across the cluster; one per name. */
  loginAttempts(name: string): AttemptLimiter;
  recentErrors: RecentErrors;
  /** What the hubs did, for /metrics. */
  counters: Counters;
  /** What the hubs do, as it happens (messages accepted, notifications acknowledged), for webhooks. */
  activity: Activity;
  startedAt: number;
}

/** The signing keys and lifetimes of the configuration (also used by the CLI when no server runs). */
export async function createTokens(config: Config, store: Store): Promise<Tokens> {
  const secret = config.jwtSecret !== '' ? new TextEncoder().encode(config.jwtSecret) : await store.secret('signing', 32);
  return new Tokens(secret, {
    client: config.clientTokenTtl,
    user: config.userTokenTtl,
    stream: config.streamTokenTtl,
  });
}

export async function createCore(config: Config, store: Store, plainLog: Logger): Promise<Core> {
  const recentErrors = new RecentErrors();
  const log = recentErrors.wrap(plainLog);
  const tokens = await createTokens(config, store);
  const directory = new Directory(store);
  const presence = new Presence(config.connectionsPerUser);
  const cluster = await joinCluster(config, log);
  const bus = cluster.bus;
  // Through the bus, so that every node closes the sessions and forgets the tokens.
  directory.onUserRemoved((user) => bus.publish('users.removed', user.id));
  bus.subscribe('users.removed', (userId) => presence.disconnectUser(userId as UserId));
  tokens.onRevoke((claims) => bus.publish('tokens.revoked', claims));
  bus.subscribe('tokens.revoked', (claims) => tokens.applyRevocation(claims as Pick<TokenClaims, 'tokenId' | 'expiresAt'>));
  await cluster.attach(presence);
  // One limiter per name: the hubs that check passwords share 'password-login', so a guesser gets
  // login_attempts_per_minute tries per username in all, not per hub.
  const limiters = new Map<string, AttemptLimiter>();
  const counters = new Counters();
  const activity = new Activity(log);
  // Messages in, per hub, for /metrics; an acknowledgement is not a message.
  activity.on((event) => {
    if (event.type !== 'notification.acked') counters.hub(event.hub).messagesIn++;
  });
  if (config.clientId !== '') await directory.ensureClient(config.clientId, config.clientSecret);
  return {
    config,
    log,
    store,
    directory,
    tokens,
    bus,
    presence,
    cluster,
    loginAttempts: (name) => {
      let limiter = limiters.get(name);
      if (!limiter) limiters.set(name, (limiter = countingFailures(cluster.attemptLimiter(name, config.loginAttemptsPerMinute, 60_000), name, counters)));
      return limiter;
    },
    recentErrors,
    counters,
    activity,
    startedAt: Date.now(),
  };
}

function countingFailures(limiter: AttemptLimiter, name: string, counters: Counters): AttemptLimiter {
  return {
    check: (...keys) => limiter.check(...keys),
    fail: (...keys) => {
      counters.authFailed(name);
      return limiter.fail(...keys);
    },
  };
}
