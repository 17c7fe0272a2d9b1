// The file store's side of `flashhub migrate` (../transfer.ts). Metadata is one in-memory document,
// so it is read in one piece and handed out in pages; messages and notifications are read through
// the paged public API; imports go through the parts' import methods, one group commit (or one
// metadata write) per page.

import {
  historyPages,
  pendingPages,
  slices,
  type IdCounters,
  type Inventory,
  type NamedSecret,
  type RoomHistory,
  type StoreExport,
  type StoreImport,
} from '../transfer.ts';
import type { ClientRecord, GroupRecord, Notification, RoomRecord, StoredMessage, UserRecord } from '../types.ts';
import type { SyncMode } from './fsutil.ts';
import type { FileMessageStore } from './message-store.ts';
import type { FileMetaStore } from './meta-store.ts';
import type { FileNotificationStore } from './notification-store.ts';
import { listSecrets, writeSecret } from './secret-file.ts';

/** Records per page of users, groups, rooms and room histories. */
const PAGE = 1000;

interface Parts {
  meta: FileMetaStore;
  messages: FileMessageStore;
  notifications: FileNotificationStore;
  /** The `secrets/` directory. */
  secretsDir: string;
  sync: SyncMode;
}

export class FileStoreExport implements StoreExport {
  #p: Parts;

  constructor(parts: Parts) {
    this.#p = parts;
  }

  async inventory(): Promise<Inventory> {
    const counts = this.#p.meta.counts();
    return {
      ...counts,
      histories: this.#p.messages.histories().length,
      messages: this.#p.messages.stats().messages,
      notifications: this.#p.notifications.stats().pending,
      secrets: (await listSecrets(this.#p.secretsDir)).length,
    };
  }

  async *users(): AsyncIterable<UserRecord[]> {
    yield* slices((await this.#p.meta.listUsers()).items, PAGE);
  }

  async *clients(): AsyncIterable<ClientRecord[]> {
    yield* slices(await this.#p.meta.listClients(), PAGE);
  }

  async *groups(): AsyncIterable<GroupRecord[]> {
    yield* slices((await this.#p.meta.listGroups()).items, PAGE);
  }

  async *rooms(): AsyncIterable<RoomRecord[]> {
    yield* slices(await this.#p.meta.listRooms(), PAGE);
  }

  async *histories(): AsyncIterable<RoomHistory[]> {
    yield* slices(this.#p.messages.histories(), PAGE);
  }

  messages(room: string): AsyncIterable<StoredMessage[]> {
    return historyPages(this.#p.messages, room);
  }

  notifications(): AsyncIterable<Notification[]> {
    return pendingPages(this.#p.notifications, slices(this.#p.notifications.usersWithPending(), PAGE));
  }

  async *secrets(): AsyncIterable<NamedSecret[]> {
    yield await listSecrets(this.#p.secretsDir);
  }

  async counters(): Promise<IdCounters> {
    return { nextUserId: this.#p.meta.nextUserId, nextNotificationId: this.#p.notifications.nextId };
  }
}

export class FileStoreImport implements StoreImport {
  #p: Parts;

  constructor(parts: Parts) {
    this.#p = parts;
  }

  users(users: UserRecord[]): Promise<void> {
    return this.#p.meta.importUsers(users);
  }

  clients(clients: ClientRecord[]): Promise<void> {
    return this.#p.meta.importClients(clients);
  }

  groups(groups: GroupRecord[]): Promise<void> {
    return this.#p.meta.importGroups(groups);
  }

  rooms(rooms: RoomRecord[]): Promise<void> {
    return this.#p.meta.importRooms(rooms);
  }

  messages(room: string, messages: StoredMessage[]): Promise<void> {
    return this.#p.messages.importMessages(room, messages);
  }

  roomSeq(room: string, lastSeq: number): Promise<void> {
    return this.#p.messages.raiseSeq(room, lastSeq);
  }

  notifications(notifications: Notification[]): Promise<void> {
    return this.#p.notifications.importNotifications(notifications);
  }

  async secrets(secrets: NamedSecret[]): Promise<void> {
    for (const s of secrets) await writeSecret(this.#p.secretsDir, s.name, s.value, this.#p.sync);
  }

  async counters(counters: IdCounters): Promise<void> {
    await this.#p.meta.raiseNextUserId(counters.nextUserId);
    await this.#p.notifications.raiseNextId(counters.nextNotificationId);
  }
}
