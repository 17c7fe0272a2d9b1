// The Redis keys and channels the nodes of a cluster share, beside the store's (store/redis/keys.ts),
// under the same prefix:
//
//   bus:<channel>          pub/sub channel of a bus channel; messages are "<epoch> <seq> <json>"
//   bus-seq:<channel>      the last seq handed out on a bus channel
//   bus-epoch              names the current numbering; a Redis that lost its data starts a new one
//   nodes                  sorted set: node id → when its heartbeat expires (Redis time, ms)
//   node:<id>              hash: user id → how many sessions the user holds on that node
//   limit:<name>:<window>:<key>   failed attempts in one fixed window, expiring with it

export class ClusterKeys {
  readonly prefix: string;

  constructor(prefix: string) {
    this.prefix = prefix;
  }

  busChannel(channel: string): string {
    return `${this.prefix}bus:${channel}`;
  }

  get busPattern(): string {
    return `${this.prefix}bus:*`;
  }

  busSeq(channel: string): string {
    return `${this.prefix}bus-seq:${channel}`;
  }

  get busEpoch(): string {
    return `${this.prefix}bus-epoch`;
  }

  get nodes(): string {
    return `${this.prefix}nodes`;
  }

  /** Without the id: scripts append it themselves. */
  get nodePrefix(): string {
    return `${this.prefix}node:`;
  }

  node(id: string): string {
    return `${this.nodePrefix}${id}`;
  }

  limit(name: string, window: number, key: string): string {
    return `${this.prefix}limit:${name}:${window}:${key}`;
  }
}
