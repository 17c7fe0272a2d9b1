// Replays the records of a backup (read.ts) into an empty store through StoreImport, in pages, in the
// order migrateStore writes them (store/migrate.ts), keeping every identity. Room histories are
// written several rooms at once, as migrate does: thousands of small conversations would otherwise
// each wait for a durable write in turn.

import { noneCopied, PHASES, ROOMS_AT_ONCE, type MigrationCounts, type Phase, type Progress } from '../store/migrate.ts';
import { MESSAGE_PAGE, NOTIFICATION_PAGE, type Inventory, type StoreImport } from '../store/transfer.ts';
import type { BackupKind, BackupRecord, BackupRecords } from './format.ts';

const PAGE = 1000;

const PHASE_OF: Record<BackupKind, Phase | undefined> = {
  user: 'users',
  client: 'clients',
  group: 'groups',
  room: 'rooms',
  history: 'messages',
  message: 'messages',
  notification: 'notifications',
  secret: 'secrets',
  counters: undefined,
  end: undefined,
};

/** Writes every record into `to`; `totals` (the header's inventory) only sizes the progress. */
export async function restoreBackup(records: AsyncIterable<BackupRecord>, to: StoreImport, totals: Inventory, onProgress: (p: Progress) => void = () => {}): Promise<MigrationCounts> {
  const counts = noneCopied();
  const phases = new Phases(counts, totals, onProgress);
  const rooms = new RoomWrites(to, (n) => phases.add('messages', n));
  let page: Page | undefined;
  const flush = async (): Promise<void> => {
    if (page === undefined || page.records.length === 0) return;
    const done = page;
    page = undefined;
    if (done.kind === 'message') await rooms.messages(done.records as BackupRecords['message'][]);
    else await put(to, done);
    if (done.kind !== 'message') phases.add(PHASE_OF[done.kind]!, done.records.length);
  };

  for await (const line of records) {
    const phase = PHASE_OF[line.kind];
    if (page !== undefined && (page.kind !== line.kind || page.records.length >= pageSize(line.kind))) await flush();
    if (phase === undefined || phase !== phases.current) {
      await rooms.drain();
      phases.reach(phase);
    }
    if (line.kind === 'history') {
      await flush();
      await rooms.open(line.record);
      counts.histories++;
    } else if (line.kind === 'counters') {
      await to.counters(line.record);
    } else if (line.kind !== 'end') {
      page ??= { kind: line.kind, records: [] };
      page.records.push(line.record);
    }
  }
  await flush();
  await rooms.drain();
  phases.reach(undefined);
  return counts;
}

interface Page {
  kind: Exclude<BackupKind, 'history' | 'counters' | 'end'>;
  records: BackupRecords[Page['kind']][];
}

function pageSize(kind: BackupKind): number {
  return kind === 'message' ? MESSAGE_PAGE : kind === 'notification' ? NOTIFICATION_PAGE : PAGE;
}

type StoreKind = Exclude<Page['kind'], 'message'>;

const writers: { [K in StoreKind]: (to: StoreImport, records: BackupRecords[K][]) => Promise<void> } = {
  user: (to, records) => to.users(records),
  client: (to, records) => to.clients(records),
  group: (to, records) => to.groups(records),
  room: (to, records) => to.rooms(records),
  notification: (to, records) => to.notifications(records),
  secret: (to, records) => to.secrets(records.map((s) => ({ name: s.name, value: Buffer.from(s.base64, 'base64') }))),
};

function put(to: StoreImport, page: Page): Promise<void> {
  return writers[page.kind as StoreKind](to, page.records as never);
}

/**
 * The rooms' writes: each room's pages in order and its seq counter after them, up to
 * ROOMS_AT_ONCE writes at once across rooms. A failure stops new writes and is thrown by the next call.
 */
class RoomWrites {
  readonly #to: StoreImport;
  readonly #written: (n: number) => void;
  readonly #inFlight = new Set<Promise<void>>();
  #room: BackupRecords['history'] | undefined;
  /** The last write of the open room: its next write waits for it. */
  #tail: Promise<void> = Promise.resolve();
  #failure: { error: unknown } | undefined;

  constructor(to: StoreImport, written: (n: number) => void) {
    this.#to = to;
    this.#written = written;
  }

  async open(history: BackupRecords['history']): Promise<void> {
    await this.#close();
    this.#room = history;
    this.#tail = Promise.resolve();
  }

  /** Resolves once the page is queued; the reading waits here while ROOMS_AT_ONCE writes are under way. */
  async messages(page: BackupRecords['message'][]): Promise<void> {
    const room = this.#room!.room;
    this.#chain(() => this.#to.messages(room, page).then(() => this.#written(page.length)));
    await this.#slot();
  }

  /** Waits for every write; throws the first failure. */
  async drain(): Promise<void> {
    await this.#close();
    await Promise.all(this.#inFlight);
    this.#throwFailure();
  }

  /** Messages at the end that were deleted or trimmed still took their seqs. */
  async #close(): Promise<void> {
    const room = this.#room;
    this.#room = undefined;
    if (room !== undefined) this.#chain(() => this.#to.roomSeq(room.room, room.lastSeq));
    await this.#slot();
  }

  async #slot(): Promise<void> {
    while (this.#inFlight.size >= ROOMS_AT_ONCE) await Promise.race(this.#inFlight);
    this.#throwFailure();
  }

  #chain(write: () => Promise<void>): void {
    this.#throwFailure();
    const next = this.#tail.then(write);
    const tracked = next.then(
      () => void this.#inFlight.delete(tracked),
      (error: unknown) => {
        this.#failure ??= { error };
        this.#inFlight.delete(tracked);
      },
    );
    this.#inFlight.add(tracked);
    this.#tail = next;
  }

  #throwFailure(): void {
    if (this.#failure !== undefined) throw this.#failure.error;
  }
}

/** Progress phase by phase, in migrate's order; every phase is reported, also an empty one. */
class Phases {
  current: Phase | undefined;
  #index = -1;
  readonly #counts: MigrationCounts;
  readonly #totals: Inventory;
  readonly #report: (p: Progress) => void;

  constructor(counts: MigrationCounts, totals: Inventory, report: (p: Progress) => void) {
    this.#counts = counts;
    this.#totals = totals;
    this.#report = report;
  }

  /** Finishes the phases before `phase` (all of them for undefined) and starts it. */
  reach(phase: Phase | undefined): void {
    const target = phase === undefined ? PHASES.length : PHASES.indexOf(phase);
    while (this.#index < target) {
      if (this.current !== undefined) this.#emit(this.current, true);
      this.#index++;
      this.current = PHASES[this.#index];
      if (this.current !== undefined) this.#emit(this.current, false);
    }
  }

  add(phase: Phase, n: number): void {
    this.#counts[phase] += n;
    this.#emit(phase, false);
  }

  #emit(phase: Phase, finished: boolean): void {
    this.#report({ phase, done: this.#counts[phase], total: this.#totals[phase], finished });
  }
}
