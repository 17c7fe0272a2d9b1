// Key naming of the Redis store. Every key starts with the configured prefix (default `fh:`), so
// several stores (tests, apps) can share one Redis. The part in braces is the Redis Cluster hash
// tag: keys that one Lua script or MULTI touches share a tag, hence a slot.
//
//   <p>{meta}:...            users, usernames, clients, groups, rooms, memberships, secrets
//   <p>{room:<id>}:seq|msgs|cids   one room's history
//   <p>{notif}:...           every notification (ids are global, so one slot)
//   <p>{stats}:messages      live message count, for stats()
//
// Meta scripts build their keys from metaPrefix inside Lua (cascades touch keys named by data);
// that is cluster-safe because all of them carry the {meta} tag.

import { StoreError } from '../types.ts';

export const DEFAULT_PREFIX = 'fh:';

/** Braces would move the hash tag; the rest is free-form (colons are fine). */
export function checkPrefix(prefix: string): string {
  if (/[{}]/.test(prefix)) throw new StoreError('EINVAL', `key prefix ${JSON.stringify(prefix)} must not contain { or }`);
  return prefix;
}

/**
 * Room ids are free-form strings: escaping braces keeps the tag exactly `room:<id>`, and
 * escaping `%` keeps the mapping one-to-one.
 */
export function tagSafe(id: string): string {
  return id.replace(/[%{}]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** Undoes tagSafe. */
export function untagSafe(escaped: string): string {
  return escaped.replace(/%([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

/** A literal for a SCAN MATCH pattern: glob characters in a prefix must match only themselves. */
export function globEscape(literal: string): string {
  return literal.replace(/[*?[\]\\]/g, '\\$&');
}

export interface RoomKeys {
  /** INCR counter: the last seq handed out (survives delete and trim). */
  seq: string;
  /** sorted set: member = message JSON (carries its seq, so equal texts stay apart), score = seq */
  msgs: string;
  /** sorted set: member = cid, score = seq; the newest CID_WINDOW cids of the room */
  cids: string;
}

export class Keys {
  readonly prefix: string;
  /** Prefix of every {meta} key; meta scripts append `user:<id>`, `room-members:<id>`, ... */
  readonly metaPrefix: string;
  /** A fixed {meta} key passed as KEYS[1] so a cluster client routes meta scripts to that slot. */
  readonly metaAnchor: string;
  readonly notifNext: string;
  readonly notifPending: string;
  readonly statsMessages: string;

  constructor(prefix: string = DEFAULT_PREFIX) {
    this.prefix = checkPrefix(prefix);
    this.metaPrefix = `${prefix}{meta}:`;
    this.metaAnchor = `${this.metaPrefix}users`;
    this.notifNext = `${prefix}{notif}:next`;
    this.notifPending = `${prefix}{notif}:pending`;
    this.statsMessages = `${prefix}{stats}:messages`;
  }

  history(room: string): RoomKeys {
    const base = `${this.prefix}{room:${tagSafe(room)}}:`;
    return { seq: `${base}seq`, msgs: `${base}msgs`, cids: `${base}cids` };
  }

  /** SCAN pattern of every room's seq key: each room that ever had a message (roomOfSeqKey reverses it). */
  get historySeqPattern(): string {
    return `${globEscape(this.prefix)}{room:*}:seq`;
  }

  roomOfSeqKey(key: string): string {
    return untagSafe(key.slice(`${this.prefix}{room:`.length, -'}:seq'.length));
  }

  /** sorted set of one user's pending notifications: member = JSON, score = id */
  notifications(user: number): string {
    return `${this.prefix}{notif}:user:${user}`;
  }

  /** SCAN pattern of every user's notification queue (userOfQueue reverses notifications()). */
  get notificationQueuePattern(): string {
    return `${globEscape(this.prefix)}{notif}:user:*`;
  }

  userOfQueue(key: string): number {
    return Number(key.slice(`${this.prefix}{notif}:user:`.length));
  }

  /** SCAN pattern of the {meta} keys that start with `kind` (e.g. `room:`, `secret:`). */
  metaPattern(kind: string): string {
    return `${globEscape(this.metaPrefix)}${kind}*`;
  }

  meta(suffix: string): string {
    return this.metaPrefix + suffix;
  }

  clients(): string {
    return this.meta('clients');
  }

  group(id: string): string {
    return this.meta(`group:${id}`);
  }

  groupMembers(id: string): string {
    return this.meta(`group-members:${id}`);
  }

  room(id: string): string {
    return this.meta(`room:${id}`);
  }

  roomMembers(id: string): string {
    return this.meta(`room-members:${id}`);
  }

  user(id: number): string {
    return this.meta(`user:${id}`);
  }

  secret(name: string): string {
    return this.meta(`secret:${name}`);
  }
}
