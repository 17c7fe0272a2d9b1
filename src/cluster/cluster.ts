// What a node shares with the others: the bus, presence and the failed-attempt limits. A lone node
// (no redis_url) keeps them in process; with redis_url they go through Redis, which the store uses
// too. The rest (signing keys, API clients, the directory) is in the shared store already.
import { randomBytes } from 'node:crypto';
import { LocalBus, type Bus } from '../core/bus.ts';
import type { Presence } from '../core/presence.ts';
import { RateLimiter, type AttemptLimiter } from '../core/rate-limiter.ts';
import type { Logger } from '../log.ts';
import { ClusterPresence } from './cluster-presence.ts';
import { ClusterKeys } from './keys.ts';
import { RedisBus } from './redis-bus.ts';
import { RedisLink } from './redis-link.ts';
import { RedisRateLimiter } from './redis-rate-limiter.ts';

export interface Cluster {
  /** Names this node in logs, Redis and bus messages. */
  readonly nodeId: string;
  readonly bus: Bus;
  /** False while the node cannot reach what it shares with the others (/readyz says not ready). */
  ready(): boolean;
  /** Starts sharing presence (after the registry exists). */
  attach(presence: Presence): Promise<void>;
  attemptLimiter(name: string, limit: number, windowMs: number): AttemptLimiter;
  /** Leaves: the other nodes drop this node's users at once. */
  leave(): Promise<void>;
}

export interface ClusterConfig {
  redisUrl: string;
  redisPrefix: string;
  nodeTimeout: number;
}

export async function joinCluster(config: ClusterConfig, log: Logger): Promise<Cluster> {
  const nodeId = randomBytes(6).toString('hex');
  if (config.redisUrl === '') return loneNode(nodeId, log);
  const keys = new ClusterKeys(config.redisPrefix);
  const link = await RedisLink.open(config.redisUrl, log.child({ node: nodeId }));
  const bus = await RedisBus.open(link, keys, log);
  let presence: ClusterPresence | undefined;
  return {
    nodeId,
    bus,
    ready: () => link.ready,
    attach: async (registry) => {
      presence = new ClusterPresence({ link, keys, bus, presence: registry, nodeId, timeoutMs: config.nodeTimeout * 1000, log });
      await presence.start();
    },
    attemptLimiter: (name, limit, windowMs) => new RedisRateLimiter(link, keys, name, limit, windowMs),
    leave: async () => {
      await presence?.stop().catch(() => {});
      await bus.close();
      await link.close();
    },
  };
}

function loneNode(nodeId: string, log: Logger): Cluster {
  const bus = new LocalBus(log);
  return {
    nodeId,
    bus,
    ready: () => true,
    attach: async () => {},
    attemptLimiter: (_name, limit, windowMs) => new RateLimiter(limit, windowMs),
    leave: () => bus.close(),
  };
}
