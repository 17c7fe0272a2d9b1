// `flashhub migrate`: copies everything one store holds into another, empty one, keeping every
// identity (user ids, message seqs and timestamps, notification ids, secrets), so that after the
// switch passwords, tokens, history pages and unacknowledged notifications are all as before.
// It sees only the StoreExport/StoreImport pair (transfer.ts), so any two stores will do.
//
// Order matters in one place only: id counters go last, raised to the source's, which are above
// every id copied. Nothing is merged: the target must be empty, or ids would clash.

import type { Inventory, RoomHistory, StoreExport, Transferable } from './transfer.ts';
import { StoreError } from './types.ts';

export const PHASES = ['users', 'clients', 'groups', 'rooms', 'messages', 'notifications', 'secrets'] as const;
export type Phase = (typeof PHASES)[number];

export interface Progress {
  phase: Phase;
  /** Items copied so far in this phase. */
  done: number;
  /** Items the source held when the migration began (a source still in use may change). */
  total: number;
  finished: boolean;
}

/** What was copied: one count per phase, and how many rooms' histories the messages came from. */
export type MigrationCounts = Record<Phase, number> & { histories: number };

/** Rooms copied at once: thousands of small conversations would otherwise each wait for a write in turn. */
export const ROOMS_AT_ONCE = 8;

/** Nothing copied yet. */
export function noneCopied(): MigrationCounts {
  return { users: 0, clients: 0, groups: 0, rooms: 0, messages: 0, notifications: 0, secrets: 0, histories: 0 };
}

/**
 * Copies `from` into `to`. Refuses ('EEXIST') a target that holds anything. When it resolves,
 * everything is durable in the target and the target's own inventory agrees with what was copied.
 */
export async function migrateStore(from: Transferable, to: Transferable, onProgress: (p: Progress) => void = () => {}): Promise<MigrationCounts> {
  const held = await describeContents(to.export);
  if (held !== undefined) throw new StoreError('EEXIST', `the target store is not empty: it holds ${held}`);
  const totals = await from.export.inventory();
  const counts = noneCopied();
  const phase = (name: Phase) => tracker(name, totals[name], counts, onProgress);

  await copyPages(from.export.users(), (page) => to.import.users(page), phase('users'));
  await copyPages(from.export.clients(), (page) => to.import.clients(page), phase('clients'));
  await copyPages(from.export.groups(), (page) => to.import.groups(page), phase('groups'));
  await copyPages(from.export.rooms(), (page) => to.import.rooms(page), phase('rooms'));
  counts.histories = await copyHistories(from, to, phase('messages'));
  await copyPages(from.export.notifications(), (page) => to.import.notifications(page), phase('notifications'));
  await copyPages(from.export.secrets(), (page) => to.import.secrets(page), phase('secrets'));
  await to.import.counters(await from.export.counters());

  await checkCopied(to.export, counts);
  return counts;
}

/** What a store holds, in words ("3 users, 1 secret"), or undefined when it holds nothing at all. */
export async function describeContents(store: StoreExport): Promise<string | undefined> {
  const [inventory, counters] = await Promise.all([store.inventory(), store.counters()]);
  const held = (Object.keys(inventory) as (keyof Inventory)[]).filter((kind) => inventory[kind] > 0).map((kind) => amount(kind, inventory[kind]));
  // Everything deleted still leaves ids that must never be handed out again.
  if (held.length === 0 && (counters.nextUserId > 1 || counters.nextNotificationId > 1)) held.push('used user or notification ids');
  return held.length > 0 ? held.join(', ') : undefined;
}

const singular: Record<keyof Inventory, string> = {
  users: 'user',
  clients: 'client',
  groups: 'group',
  rooms: 'room',
  histories: 'room history',
  messages: 'message',
  notifications: 'notification',
  secrets: 'secret',
};

function amount(kind: keyof Inventory, n: number): string {
  return `${n} ${n === 1 ? singular[kind] : kind === 'histories' ? 'room histories' : kind}`;
}

interface PhaseTracker {
  add(n: number): void;
  finish(): void;
}

function tracker(phase: Phase, total: number, counts: MigrationCounts, onProgress: (p: Progress) => void): PhaseTracker {
  const report = (finished: boolean) => onProgress({ phase, done: counts[phase], total, finished });
  report(false);
  return {
    add(n) {
      counts[phase] += n;
      report(false);
    },
    finish: () => report(true),
  };
}

async function copyPages<T>(pages: AsyncIterable<T[]>, put: (page: T[]) => Promise<void>, progress: PhaseTracker): Promise<void> {
  for await (const page of pages) {
    if (page.length === 0) continue;
    await put(page);
    progress.add(page.length);
  }
  progress.finish();
}

/** Every room's messages, then its seq counter; returns how many rooms had a history. */
async function copyHistories(from: Transferable, to: Transferable, progress: PhaseTracker): Promise<number> {
  let rooms = 0;
  for await (const page of from.export.histories()) {
    await inParallel(page, ROOMS_AT_ONCE, (history) => copyHistory(from, to, history, progress));
    rooms += page.length;
  }
  progress.finish();
  return rooms;
}

async function copyHistory(from: Transferable, to: Transferable, history: RoomHistory, progress: PhaseTracker): Promise<void> {
  // Each page is written while the next one is read.
  let writing: Promise<void> = Promise.resolve();
  for await (const page of from.export.messages(history.room)) {
    await writing;
    writing = to.import.messages(history.room, page).then(() => progress.add(page.length));
    writing.catch(() => {}); // awaited below; this only keeps a failure during the read from counting as unhandled
  }
  await writing;
  // Messages at the end that were deleted or trimmed still took their seqs.
  await to.import.roomSeq(history.room, history.lastSeq);
}

/** Runs fn over items, `width` at a time; stops starting new ones after the first failure. */
async function inParallel<T>(items: T[], width: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failed = false;
  const worker = async (): Promise<void> => {
    while (!failed && next < items.length) {
      const item = items[next++] as T;
      await fn(item).catch((err: unknown) => {
        failed = true;
        throw err;
      });
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, worker));
}

/** The target, read back through its own export, must hold exactly what was written into it. */
export async function checkCopied(target: StoreExport, counts: MigrationCounts): Promise<void> {
  const now = await target.inventory();
  const wrong = (Object.keys(now) as (keyof Inventory)[]).filter((kind) => now[kind] !== counts[kind]);
  if (wrong.length > 0) {
    const detail = wrong.map((kind) => `${kind}: copied ${counts[kind]}, found ${now[kind]}`).join('; ');
    throw new StoreError('ECORRUPT', `the target does not hold what was copied into it (${detail})`);
  }
}
