// Checks one parsed backup line against the shape its kind must have, and hands back a record built
// from the checked fields only. A backup comes from outside (a file someone kept, copied, maybe
// edited), so nothing reaches a store unchecked; unknown fields are refused rather than dropped, so
// a backup from a newer flashhub never loses data silently.

import type { Inventory } from '../store/transfer.ts';
import { FORMAT_NAME, FORMAT_VERSION, type BackupHeader, type BackupKind, type BackupRecord, type BackupRecords } from './format.ts';

/** What is wrong with a line; the reader adds the line number. */
export class RecordError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RecordError';
  }
}

type Fields = Record<string, unknown>;

/** Secret names as the stores accept them (store/file/secret-file.ts): they become file names. */
const SECRET_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const INVENTORY_KEYS: (keyof Inventory)[] = ['users', 'clients', 'groups', 'rooms', 'histories', 'messages', 'notifications', 'secrets'];

export function checkHeader(value: unknown): BackupHeader {
  if (typeof value !== 'object' || value === null || (value as Fields).format !== FORMAT_NAME) {
    throw new RecordError(`not a flashhub backup (the first line must be its header, format "${FORMAT_NAME}")`);
  }
  const h = value as Fields;
  const version = int(h, 'version', 1);
  if (version > FORMAT_VERSION) throw new RecordError(`the backup has format version ${version}, made by a newer flashhub; this one reads version ${FORMAT_VERSION}`);
  only(h, ['format', 'version', 'flashhub', 'commit', 'createdAt', 'store', 'inventory'], 'the header');
  const store = h.store;
  if (store !== 'file' && store !== 'redis') throw new RecordError('the header\'s "store" is "file" or "redis"');
  return { format: FORMAT_NAME, version, flashhub: text(h, 'flashhub'), commit: text(h, 'commit'), createdAt: text(h, 'createdAt'), store, inventory: inventory(object(h.inventory, 'inventory')) };
}

export function checkRecord(value: unknown): BackupRecord {
  const line = object(value, 'a line');
  only(line, ['kind', 'record'], 'a line');
  const kind = line.kind;
  if (typeof kind !== 'string' || !Object.hasOwn(checks, kind)) throw new RecordError(`unknown kind ${JSON.stringify(kind)}`);
  const check = checks[kind as BackupKind] as (r: Fields) => BackupRecords[BackupKind];
  return { kind, record: check(object(line.record, `the ${kind}'s "record"`)) } as BackupRecord;
}

const checks: { [K in BackupKind]: (r: Fields) => BackupRecords[K] } = {
  user: (r) => {
    only(r, ['id', 'username', 'name', 'passwordHash', 'admin', 'createdAt'], 'a user');
    return withOptional({ id: int(r, 'id', 1), username: text(r, 'username', 1), name: text(r, 'name'), createdAt: time(r, 'createdAt') }, {
      passwordHash: optionalText(r, 'passwordHash'),
      admin: optionalFlag(r, 'admin'),
    });
  },
  client: (r) => {
    only(r, ['clientId', 'secretHash', 'createdAt'], 'a client');
    return { clientId: text(r, 'clientId', 1), secretHash: text(r, 'secretHash', 1), createdAt: time(r, 'createdAt') };
  },
  group: (r) => {
    only(r, ['id', 'members', 'createdAt'], 'a group');
    return { id: text(r, 'id', 1), members: userIds(r, 'members'), createdAt: time(r, 'createdAt') };
  },
  room: (r) => {
    only(r, ['id', 'kind', 'name', 'members', 'createdAt'], 'a room');
    const kind = r.kind;
    if (kind !== 'public' && kind !== 'private' && kind !== 'dm') throw new RecordError('a room\'s "kind" is public, private or dm');
    return withOptional({ id: text(r, 'id', 1), kind, members: userIds(r, 'members'), createdAt: time(r, 'createdAt') }, { name: optionalText(r, 'name') });
  },
  history: (r) => {
    only(r, ['room', 'lastSeq', 'messages'], 'a history');
    return { room: text(r, 'room', 1), lastSeq: int(r, 'lastSeq', 0), messages: int(r, 'messages', 0) };
  },
  message: (r) => {
    only(r, ['room', 'seq', 'ts', 'from', 'text', 'data', 'cid'], 'a message');
    const message = withOptional({ room: text(r, 'room', 1), seq: int(r, 'seq', 1), ts: time(r, 'ts'), from: int(r, 'from', 0) }, {
      text: optionalText(r, 'text'),
      cid: optionalText(r, 'cid'),
    });
    return Object.hasOwn(r, 'data') ? { ...message, data: r.data } : message;
  },
  notification: (r) => {
    only(r, ['id', 'user', 'ts', 'payload'], 'a notification');
    if (!Object.hasOwn(r, 'payload')) throw new RecordError('a notification has a "payload"');
    return { id: int(r, 'id', 1), user: int(r, 'user', 1), ts: time(r, 'ts'), payload: r.payload };
  },
  secret: (r) => {
    only(r, ['name', 'base64'], 'a secret');
    const name = text(r, 'name');
    if (!SECRET_NAME.test(name)) throw new RecordError(`bad secret name ${JSON.stringify(name)} (letters, digits, . _ -)`);
    const base64 = text(r, 'base64', 1);
    if (!BASE64.test(base64)) throw new RecordError(`secret ${name}: "base64" is not base64`);
    return { name, base64 };
  },
  counters: (r) => {
    only(r, ['nextUserId', 'nextNotificationId'], 'the counters');
    return { nextUserId: int(r, 'nextUserId', 1), nextNotificationId: int(r, 'nextNotificationId', 1) };
  },
  end: (r) => inventory(r),
};

function inventory(r: Fields): Inventory {
  only(r, INVENTORY_KEYS, 'the counts');
  return Object.fromEntries(INVENTORY_KEYS.map((key) => [key, int(r, key, 0)])) as unknown as Inventory;
}

// ---- field checks

function object(value: unknown, what: string): Fields {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new RecordError(`${what} must be a JSON object`);
  return value as Fields;
}

function only(r: Fields, allowed: string[], what: string): void {
  const extra = Object.keys(r).find((key) => !allowed.includes(key));
  if (extra !== undefined) throw new RecordError(`${what} has an unknown field ${JSON.stringify(extra)}`);
}

function int(r: Fields, key: string, min: number): number {
  const v = r[key];
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) throw new RecordError(`"${key}" must be a whole number from ${min}`);
  return v;
}

function time(r: Fields, key: string): number {
  const v = r[key];
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new RecordError(`"${key}" must be a time in milliseconds`);
  return v;
}

function text(r: Fields, key: string, minLength = 0): string {
  const v = r[key];
  if (typeof v !== 'string' || v.length < minLength) throw new RecordError(`"${key}" must be ${minLength > 0 ? 'non-empty ' : ''}text`);
  return v;
}

function optionalText(r: Fields, key: string): string | undefined {
  return Object.hasOwn(r, key) ? text(r, key) : undefined;
}

function optionalFlag(r: Fields, key: string): boolean | undefined {
  if (!Object.hasOwn(r, key)) return undefined;
  if (typeof r[key] !== 'boolean') throw new RecordError(`"${key}" must be true or false`);
  return r[key];
}

function userIds(r: Fields, key: string): number[] {
  const v = r[key];
  if (!Array.isArray(v) || !v.every((id) => typeof id === 'number' && Number.isSafeInteger(id) && id >= 1)) {
    throw new RecordError(`"${key}" must be a list of user ids`);
  }
  return v as number[];
}

/** The record with the optional fields that are set (absent ones stay absent, not undefined). */
function withOptional<T extends object, O extends object>(record: T, optional: O): T & Partial<O> {
  const set = Object.entries(optional).filter(([, value]) => value !== undefined);
  return { ...record, ...Object.fromEntries(set) } as T & Partial<O>;
}
