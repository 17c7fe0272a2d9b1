// Presence across the nodes of a cluster. Each node keeps, in Redis, a hash of the users it holds
// sessions for (user → count) and a heartbeat (the `nodes` sorted set, scored by expiry). Changes
// travel on the bus channel `presence`:
//
//   {node, user, online}   a user came online on a node, or left it (sent once per tick and user)
//   {node, users}          everything a node holds, after it (re)registered
//   {gone, by}             a node was removed: it stopped, or `by` found its heartbeat expired
//
// Every node removes the expired nodes it finds (the removal script lets one win), so a killed
// node's users go offline within node_timeout plus one beat. A node that was only stalled (or cut
// off) registers again when it can; the node that removed it announces its users' return, as it
// announced their leaving (chat's user.connected after its user.disconnected). After a Redis
// outage a node writes its users again and reloads the whole view, announcing only what changed
// meanwhile.
import type { Bus } from '../core/bus.ts';
import type { Presence } from '../core/presence.ts';
import type { UserId } from '../store/types.ts';
import type { Logger } from '../log.ts';
import type { ClusterKeys } from './keys.ts';
import type { RedisLink } from './redis-link.ts';
import { CONNECTIONS_ELSEWHERE, HEARTBEAT, REAP, VIEW } from './scripts.ts';

const channel = 'presence';
/** How long a node remembers the nodes it removed as dead, in case one comes back. */
const reapedMemoryMs = 3_600_000;

type PresenceMessage =
  | { node: string; user: UserId; online: boolean }
  | { node: string; users: UserId[] }
  | { gone: string; by: string };

export interface ClusterPresenceOptions {
  link: RedisLink;
  keys: ClusterKeys;
  bus: Bus;
  presence: Presence;
  nodeId: string;
  timeoutMs: number;
  log: Logger;
}

export class ClusterPresence {
  readonly #o: ClusterPresenceOptions;
  /** Counts changed since the last flush, by user. */
  readonly #pending = new Map<UserId, number>();
  /** Whether each user was last announced online from this node. */
  readonly #announced = new Set<UserId>();
  /**
   * Nodes this node removed as dead, and when. Their users' leaving was this node's change to
   * announce ('local'), so if one was only stalled and registers again, so is their return.
   */
  readonly #reaped = new Map<string, number>();
  #flushing = false;
  /** A write failed: the node's hash must be written whole once Redis is back. */
  #stale = false;
  #timer: NodeJS.Timeout | undefined;
  #stops: (() => void)[] = [];

  constructor(o: ClusterPresenceOptions) {
    this.#o = o;
  }

  async start(): Promise<void> {
    const { presence, bus, link } = this.#o;
    this.#stops.push(bus.subscribe(channel, (payload) => this.#receive(payload as PresenceMessage)));
    this.#stops.push(presence.onLocalCount((userId, count) => this.#counted(userId, count)));
    presence.countElsewhereWith((userId) => this.#connectionsElsewhere(userId));
    link.onReconnected(() => void this.#resync());
    await this.#register();
    await this.#loadView();
    const beat = Math.max(250, Math.floor(this.#o.timeoutMs / 4));
    this.#timer = setInterval(() => void this.#beat(), beat).unref();
  }

  /** Leaves the cluster at a graceful stop: the other nodes drop this node's users at once. */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    for (const stop of this.#stops) stop();
    const { link, keys, nodeId } = this.#o;
    await link.commands
      .multi()
      .zrem(keys.nodes, nodeId)
      .del(keys.node(nodeId))
      .exec()
      .catch(() => {});
    this.#o.bus.publish(channel, { gone: nodeId, by: nodeId });
  }

  #counted(userId: UserId, count: number): void {
    this.#pending.set(userId, count);
    if (this.#pending.size === 1) setImmediate(() => void this.#flush());
  }

  /** One round trip for every change of a tick; online/offline announced only when it changed. */
  async #flush(): Promise<void> {
    if (this.#flushing || this.#pending.size === 0) return;
    this.#flushing = true;
    const changes = [...this.#pending];
    this.#pending.clear();
    const { link, keys, nodeId, bus } = this.#o;
    const batch = link.commands.multi();
    for (const [userId, count] of changes) {
      if (count > 0) batch.hset(keys.node(nodeId), String(userId), count);
      else batch.hdel(keys.node(nodeId), String(userId));
    }
    try {
      await batch.exec();
    } catch {
      this.#stale = true;
    }
    for (const [userId, count] of changes) {
      if (count > 0 === this.#announced.has(userId)) continue;
      if (count > 0) this.#announced.add(userId);
      else this.#announced.delete(userId);
      bus.publish(channel, { node: nodeId, user: userId, online: count > 0 });
    }
    this.#flushing = false;
    if (this.#pending.size > 0) setImmediate(() => void this.#flush());
  }

  /** Writes this node's heartbeat and, when it was not registered, its users and an announcement. */
  async #register(): Promise<boolean> {
    const { link, keys, nodeId, timeoutMs } = this.#o;
    const added = Number(await link.script(HEARTBEAT, [keys.nodes], [nodeId, timeoutMs]));
    if (added === 0 && !this.#stale) return false;
    const counts = this.#o.presence.localCounts();
    const batch = link.commands.multi().del(keys.node(nodeId));
    for (const [userId, count] of counts) batch.hset(keys.node(nodeId), String(userId), count);
    await batch.exec();
    this.#stale = false;
    this.#announced.clear();
    for (const userId of counts.keys()) this.#announced.add(userId);
    this.#o.bus.publish(channel, { node: nodeId, users: [...counts.keys()] });
    return true;
  }

  async #beat(): Promise<void> {
    const { link, keys, nodeId, bus, presence, log } = this.#o;
    try {
      if (await this.#register()) log.warn('cluster.node_reregistered', { node: nodeId });
      const dead = (await link.script(REAP, [keys.nodes], [keys.nodePrefix])) as string[];
      const now = Date.now();
      for (const [node, at] of this.#reaped) if (now - at > reapedMemoryMs) this.#reaped.delete(node);
      for (const gone of dead) {
        log.warn('cluster.node_expired', { node: gone });
        this.#reaped.set(gone, now);
        presence.dropNode(gone, 'local');
        bus.publish(channel, { gone, by: nodeId });
      }
    } catch {
      // Redis is down: the link logs it, and the resync after it comes back catches up.
    }
  }

  async #resync(): Promise<void> {
    try {
      this.#stale = true;
      await this.#register();
      await this.#loadView();
    } catch (error) {
      this.#o.log.warn('cluster.resync_failed', { error: (error as Error).message });
    }
  }

  async #loadView(): Promise<void> {
    const { link, keys, nodeId, presence } = this.#o;
    const flat = (await link.script(VIEW, [keys.nodes], [keys.nodePrefix])) as string[];
    const view = new Map<UserId, Set<string>>();
    let node: string | undefined;
    for (let i = 0; i < flat.length; ) {
      if (node === undefined) {
        node = flat[i++];
      } else if (flat[i] === '') {
        node = undefined;
        i++;
      } else {
        const userId = Number(flat[i]);
        if (node !== nodeId && Number(flat[i + 1]) > 0) view.set(userId, (view.get(userId) ?? new Set()).add(node));
        i += 2;
      }
    }
    presence.replaceRemote(view, 'remote');
  }

  #receive(message: PresenceMessage): void {
    const { presence, nodeId } = this.#o;
    if ('gone' in message) {
      if (message.gone === nodeId) {
        // Others took this node for dead (e.g. it was cut off from Redis): register again.
        if (message.by !== nodeId) void this.#resync();
        return;
      }
      if (message.by !== nodeId) presence.dropNode(message.gone, 'remote');
      return;
    }
    if (message.node === nodeId) return;
    if ('users' in message) {
      const now = new Set(message.users);
      const cause = this.#reaped.delete(message.node) ? 'local' : 'remote';
      for (const userId of presence.usersOn(message.node)) if (!now.has(userId)) presence.setRemote(message.node, userId, false);
      for (const userId of now) presence.setRemote(message.node, userId, true, cause);
      return;
    }
    presence.setRemote(message.node, message.user, message.online);
  }

  async #connectionsElsewhere(userId: UserId): Promise<number> {
    const { link, keys, nodeId } = this.#o;
    try {
      return Number(await link.script(CONNECTIONS_ELSEWHERE, [keys.nodes], [keys.nodePrefix, nodeId, userId]));
    } catch {
      // Without Redis, the limit holds per node.
      return 0;
    }
  }
}
