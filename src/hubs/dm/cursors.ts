// Delivery cursors: for each user and conversation, how far the user's dm stream has got. A message
// counts as received once it was written to one of the user's dm sockets (live or replayed), or when
// the user sent it. On connect, everything past the cursor is "missed" and is replayed.
//
// The cursor is the highest id up to which every message was received; ids received out of order wait
// above it. So a socket that dies halfway through a replay leaves the cursor at the last message it
// got, and nothing after it is skipped. What is stored is only that contiguous mark.
//
// Persistence goes through the Store interface as it is: each user's marks are one JSON snapshot
// appended to the message-store room "dm-cursors:<user id>", written at most once per flush delay
// (and when the user's last socket closes, and at shutdown), and the room is trimmed to its newest
// snapshot now and then. A crash between a delivery and the next write means some messages are
// replayed again on the next connect (at least once; ids let clients drop repeats), never that one
// is lost.
import type { Logger } from '../../log.ts';
import type { MessageStore, UserId } from '../../store/types.ts';

/** Ids seen above the contiguous mark are kept up to this many; past it they are forgotten (replayed again later, never skipped). */
const maxAhead = 4096;
const day = 86_400_000;

export class Cursor {
  #value: number;
  readonly #ahead = new Set<number>();

  constructor(value = 0) {
    this.#value = value;
  }

  get value(): number {
    return this.#value;
  }

  seen(id: number): boolean {
    return id <= this.#value || this.#ahead.has(id);
  }

  /** Records that `id` was received; true when the contiguous mark moved. */
  mark(id: number): boolean {
    if (id <= this.#value) return false;
    if (id !== this.#value + 1) {
      if (this.#ahead.size >= maxAhead) this.#ahead.clear();
      this.#ahead.add(id);
      return false;
    }
    this.#value = id;
    this.#catchUp();
    return true;
  }

  /** Moves the mark over ids that will never come (a reported gap, or a stored mark); true when it moved. */
  raiseTo(id: number): boolean {
    if (id <= this.#value) return false;
    this.#value = id;
    for (const ahead of this.#ahead) if (ahead <= id) this.#ahead.delete(ahead);
    this.#catchUp();
    return true;
  }

  #catchUp(): void {
    while (this.#ahead.delete(this.#value + 1)) this.#value++;
  }
}

interface Entry {
  refs: number;
  rooms: Map<string, Cursor>;
  ready: Promise<void>;
  dirty: boolean;
  timer: NodeJS.Timeout | undefined;
  writes: number;
  /** The snapshot writes of this user, one after the other. */
  writing: Promise<void>;
}

export interface CursorOptions {
  flushDelayMs?: number;
  /** Trim the snapshot room to its newest record every this many writes. */
  compactEvery?: number;
}

export function cursorRoom(user: UserId): string {
  return `dm-cursors:${user}`;
}

export class Cursors {
  readonly #messages: MessageStore;
  readonly #log: Logger;
  readonly #flushDelayMs: number;
  readonly #compactEvery: number;
  readonly #users = new Map<UserId, Entry>();

  constructor(messages: MessageStore, log: Logger, options: CursorOptions = {}) {
    this.#messages = messages;
    this.#log = log;
    this.#flushDelayMs = options.flushDelayMs ?? 1000;
    this.#compactEvery = options.compactEvery ?? 32;
  }

  /** Loads the user's marks (once) and keeps them in memory until every acquire is released. */
  acquire(user: UserId): Promise<void> {
    let entry = this.#users.get(user);
    if (!entry) {
      const created: Entry = { refs: 0, rooms: new Map(), ready: Promise.resolve(), dirty: false, timer: undefined, writes: 0, writing: Promise.resolve() };
      created.ready = this.#load(user, created);
      created.ready.catch(() => {
        if (this.#users.get(user) === created) this.#users.delete(user);
      });
      this.#users.set(user, (entry = created));
    }
    entry.refs++;
    return entry.ready;
  }

  /** After the last release the marks are written, then dropped from memory. */
  release(user: UserId): void {
    const entry = this.#users.get(user);
    if (!entry || --entry.refs > 0) return;
    void this.#flush(user, entry).then(() => {
      if (entry.refs === 0 && this.#users.get(user) === entry) {
        clearTimeout(entry.timer);
        this.#users.delete(user);
      }
    });
  }

  value(user: UserId, room: string): number {
    return this.#users.get(user)?.rooms.get(room)?.value ?? 0;
  }

  seen(user: UserId, room: string, id: number): boolean {
    return this.#users.get(user)?.rooms.get(room)?.seen(id) ?? false;
  }

  /** Only for users whose marks are held (they have a socket here); others received nothing. */
  mark(user: UserId, room: string, id: number): void {
    const entry = this.#users.get(user);
    if (entry && this.#cursor(entry, room).mark(id)) this.#changed(user, entry);
  }

  raiseTo(user: UserId, room: string, id: number): void {
    const entry = this.#users.get(user);
    if (entry && this.#cursor(entry, room).raiseTo(id)) this.#changed(user, entry);
  }

  /** Writes every pending snapshot (shutdown). */
  async close(): Promise<void> {
    await Promise.all([...this.#users].map(([user, entry]) => this.#flush(user, entry)));
  }

  #cursor(entry: Entry, room: string): Cursor {
    let cursor = entry.rooms.get(room);
    if (!cursor) entry.rooms.set(room, (cursor = new Cursor()));
    return cursor;
  }

  async #load(user: UserId, entry: Entry): Promise<void> {
    const [latest] = await this.#messages.page(cursorRoom(user), { limit: 1 });
    const marks = latest?.data;
    if (typeof marks === 'object' && marks !== null) {
      for (const [room, id] of Object.entries(marks)) {
        if (Number.isSafeInteger(id) && (id as number) > 0) this.#cursor(entry, room).raiseTo(id as number);
      }
    }
    // Rewritten once a day while in use, so history retention never drops a user's only snapshot.
    if (latest && Date.now() - latest.ts > day) this.#changed(user, entry);
  }

  #changed(user: UserId, entry: Entry): void {
    entry.dirty = true;
    entry.timer ??= setTimeout(() => void this.#flush(user, entry), this.#flushDelayMs).unref();
  }

  #flush(user: UserId, entry: Entry): Promise<void> {
    clearTimeout(entry.timer);
    entry.timer = undefined;
    entry.writing = entry.writing.then(async () => {
      // Never write before the stored marks are merged in: that would replace them with fewer.
      try {
        await entry.ready;
      } catch {
        return;
      }
      if (!entry.dirty) return;
      entry.dirty = false;
      const snapshot: Record<string, number> = {};
      for (const [room, cursor] of entry.rooms) if (cursor.value > 0) snapshot[room] = cursor.value;
      try {
        await this.#messages.append(cursorRoom(user), { from: user, data: snapshot });
        if (++entry.writes % this.#compactEvery === 0) await this.#messages.trim(cursorRoom(user), 1);
      } catch (error) {
        entry.dirty = true;
        this.#log.error('dm.cursor_write_failed', { userId: user, error });
      }
    });
    return entry.writing;
  }
}
