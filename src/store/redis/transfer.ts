// The Redis store's side of `flashhub migrate` (../transfer.ts). What the store keeps in indexes
// (users, groups, clients) is read through them; what it never lists while serving (rooms,
// histories, notification queues, secrets) is found with SCAN. Imports are one script call per
// page (messages, notifications) or per record (users, groups), sent without waiting in between.

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
import type { RedisConnection } from './connection.ts';
import type { RedisMessageStore } from './message-store.ts';
import type { RedisMetaStore } from './meta-store.ts';
import type { RedisNotificationStore } from './notification-store.ts';
import { countKeys } from './scan.ts';
import { listSecrets, writeSecret } from './secret.ts';

/** Records per page of users and groups. */
const PAGE = 1000;

interface Parts {
  conn: RedisConnection;
  meta: RedisMetaStore;
  messages: RedisMessageStore;
  notifications: RedisNotificationStore;
}

export class RedisStoreExport implements StoreExport {
  #p: Parts;

  constructor(parts: Parts) {
    this.#p = parts;
  }

  async inventory(): Promise<Inventory> {
    const { conn, meta } = this.#p;
    const k = conn.keys;
    const [users, groups] = await Promise.all([meta.listUsers({ limit: 0 }), meta.listGroups({ limit: 0 })]);
    const inventory: Inventory = {
      users: users.total,
      clients: Number(await conn.call('HLEN', k.clients())),
      groups: groups.total,
      rooms: await countKeys(conn, k.metaPattern('room:')),
      histories: 0,
      messages: 0,
      notifications: 0,
      secrets: await countKeys(conn, k.metaPattern('secret:')),
    };
    for await (const page of this.histories()) {
      inventory.histories += page.length;
      for (const h of page) inventory.messages += h.messages;
    }
    // The pending counter is kept by scripts that a crash could split from the queues; count them.
    for await (const users of this.#p.notifications.usersWithPending()) {
      const sizes = await Promise.all(users.map((u) => conn.call('ZCARD', k.notifications(u))));
      for (const n of sizes) inventory.notifications += Number(n);
    }
    return inventory;
  }

  async *users(): AsyncIterable<UserRecord[]> {
    for (let offset = 0; ; offset += PAGE) {
      const page = await this.#p.meta.listUsers({ offset, limit: PAGE });
      if (page.items.length === 0) return;
      yield page.items;
    }
  }

  async *clients(): AsyncIterable<ClientRecord[]> {
    yield* slices(await this.#p.meta.listClients(), PAGE);
  }

  async *groups(): AsyncIterable<GroupRecord[]> {
    for (let offset = 0; ; offset += PAGE) {
      const page = await this.#p.meta.listGroups({ offset, limit: PAGE });
      if (page.items.length === 0) return;
      yield page.items;
    }
  }

  rooms(): AsyncIterable<RoomRecord[]> {
    return this.#p.meta.listRooms();
  }

  histories(): AsyncIterable<RoomHistory[]> {
    return this.#p.messages.histories();
  }

  messages(room: string): AsyncIterable<StoredMessage[]> {
    return historyPages(this.#p.messages, room);
  }

  notifications(): AsyncIterable<Notification[]> {
    return pendingPages(this.#p.notifications, this.#p.notifications.usersWithPending());
  }

  async *secrets(): AsyncIterable<NamedSecret[]> {
    yield await listSecrets(this.#p.conn);
  }

  async counters(): Promise<IdCounters> {
    const [nextUserId, nextNotificationId] = await Promise.all([this.#p.meta.nextUserId(), this.#p.notifications.nextId()]);
    return { nextUserId, nextNotificationId };
  }
}

export class RedisStoreImport implements StoreImport {
  #p: Parts;

  constructor(parts: Parts) {
    this.#p = parts;
  }

  async users(users: UserRecord[]): Promise<void> {
    await Promise.all(users.map((u) => this.#p.meta.importUser(u)));
  }

  async clients(clients: ClientRecord[]): Promise<void> {
    await Promise.all(clients.map((c) => this.#p.meta.putClient(c)));
  }

  async groups(groups: GroupRecord[]): Promise<void> {
    await Promise.all(groups.map((g) => this.#p.meta.importGroup(g)));
  }

  async rooms(rooms: RoomRecord[]): Promise<void> {
    await Promise.all(rooms.map((r) => this.#p.meta.putRoom(r)));
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
    for (const s of secrets) await writeSecret(this.#p.conn, s.name, s.value);
  }

  async counters(counters: IdCounters): Promise<void> {
    await Promise.all([this.#p.meta.raiseNextUserId(counters.nextUserId), this.#p.notifications.raiseNextId(counters.nextNotificationId)]);
  }
}
