// The backup file of `flashhub export` / `flashhub import`: JSON lines. Line 1 is the header; then one
// line per record, `{"kind": ..., "record": {...}}`, grouped by kind in the order migrateStore copies
// them (store/migrate.ts), so an import replays the file front to back through StoreImport; the last
// line is the `end` record, whose counts tell a complete file from a truncated one.
//
// Records keep the store's own shapes (store/types.ts, store/transfer.ts), so a backup holds every
// identity a migration keeps. The only bytes that are not JSON already, secrets, are base64.

import type { IdCounters, Inventory, RoomHistory } from '../store/transfer.ts';
import type { ClientRecord, GroupRecord, Notification, RoomRecord, StoredMessage, UserRecord } from '../store/types.ts';

export const FORMAT_NAME = 'flashhub-backup';
export const FORMAT_VERSION = 1;

export interface BackupHeader {
  format: typeof FORMAT_NAME;
  version: number;
  /** The flashhub that wrote it, and its commit. */
  flashhub: string;
  commit: string;
  /** When the export began (ISO 8601). */
  createdAt: string;
  /** The kind of store it was read from. */
  store: 'file' | 'redis';
  /** What the store held when the export began; the `end` record says what the file holds. */
  inventory: Inventory;
}

/** A secret as the file holds it: its bytes in base64. */
export interface SecretLine {
  name: string;
  base64: string;
}

/** What each kind of line carries. */
export interface BackupRecords {
  user: UserRecord;
  client: ClientRecord;
  group: GroupRecord;
  room: RoomRecord;
  /** Opens a room's history; its messages follow on the next lines. */
  history: RoomHistory;
  message: StoredMessage;
  notification: Notification;
  secret: SecretLine;
  counters: IdCounters;
  /** The last line: how many records of each kind the file holds. */
  end: Inventory;
}

export type BackupKind = keyof BackupRecords;

export type BackupRecord = { [K in BackupKind]: { kind: K; record: BackupRecords[K] } }[BackupKind];

/** The order kinds come in; history lines and their messages interleave, room after room. */
export const KIND_ORDER: Record<BackupKind, number> = {
  user: 0,
  client: 1,
  group: 2,
  room: 3,
  history: 4,
  message: 4,
  notification: 5,
  secret: 6,
  counters: 7,
  end: 8,
};

/** The Inventory count each kind adds to (counters and end add to none). */
export const COUNTED_AS: Partial<Record<BackupKind, keyof Inventory>> = {
  user: 'users',
  client: 'clients',
  group: 'groups',
  room: 'rooms',
  history: 'histories',
  message: 'messages',
  notification: 'notifications',
  secret: 'secrets',
};

export function emptyInventory(): Inventory {
  return { users: 0, clients: 0, groups: 0, rooms: 0, histories: 0, messages: 0, notifications: 0, secrets: 0 };
}

export function encodeRecord<K extends BackupKind>(kind: K, record: BackupRecords[K]): string {
  return JSON.stringify({ kind, record }) + '\n';
}

export function encodeHeader(header: BackupHeader): string {
  return JSON.stringify(header) + '\n';
}
