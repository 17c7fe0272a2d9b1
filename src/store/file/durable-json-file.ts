// A lowdb Adapter that makes every write durable and never resets a damaged file.
//
// Differences from lowdb's stock JSONFile/steno (storage.md §1, §5.6):
// - unique tmp name per write (mode 0600), fsync(tmp), rename, fsync(dir): safe on power loss,
//   and two writers never share a tmp file;
// - one JSON.stringify per physical write: calls made while a write is in flight share the next
//   write, which serialises the then-current document (lowdb passes the same object every time);
// - a caller's promise resolves only after a write that started after its call, so it always
//   covers the caller's mutation;
// - an empty, unparsable or `null` file is a hard error naming the path; lowdb would otherwise
//   fall back to the defaults and overwrite the damaged file on the next write.

import fs from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Adapter } from 'lowdb';
import { StoreError } from '../types.ts';
import { errnoCode, noReport, removeTmpFiles, syncDir, syncFull, type Reporter, type SyncMode } from './fsutil.ts';

export interface DurableJSONFileOptions {
  sync?: SyncMode;
  report?: Reporter;
  /** Indentation for humans reading the file; 0 (compact) by default because it is rewritten whole. */
  indent?: number;
}

interface Waiter {
  resolve: () => void;
  reject: (err: unknown) => void;
}

export class DurableJSONFile<T> implements Adapter<T> {
  readonly path: string;
  #dir: string;
  #base: string;
  #sync: SyncMode;
  #report: Reporter;
  #indent: number;
  /** The newest data handed to write(); serialised when the next physical write starts. */
  #latest: T | undefined;
  /** Callers waiting for the next physical write (not the one in flight). */
  #next: Waiter[] = [];
  #running = false;
  /** Physical writes completed; for tests that check coalescing. */
  writes = 0;

  constructor(file: string, options: DurableJSONFileOptions = {}) {
    this.path = path.resolve(file);
    this.#dir = path.dirname(this.path);
    this.#base = path.basename(this.path);
    this.#sync = options.sync ?? 'fsync';
    this.#report = options.report ?? noReport;
    this.#indent = options.indent ?? 0;
  }

  /** Missing file → null (lowdb then uses its defaults). Damaged file → ECORRUPT. */
  async read(): Promise<T | null> {
    await this.#removeLeftovers();
    let text: string;
    try {
      text = await fs.readFile(this.path, 'utf8');
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return null;
      throw err;
    }
    const refuse = (why: string): StoreError =>
      new StoreError('ECORRUPT', `${this.path}: ${why}; refusing to start rather than reset it (restore it from a backup or move it away)`);
    if (text.trim() === '') throw refuse(`file is empty (${text.length} bytes)`);
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch (err) {
      throw refuse(`not valid JSON (${(err as Error).message})`);
    }
    if (data === null || typeof data !== 'object') throw refuse(`holds ${data === null ? 'null' : typeof data}, not a JSON object`);
    return data as T;
  }

  write(data: T): Promise<void> {
    this.#latest = data;
    const done = new Promise<void>((resolve, reject) => this.#next.push({ resolve, reject }));
    if (!this.#running) void this.#drain();
    return done;
  }

  /** Runs physical writes until nobody is waiting; each takes all waiters queued before it started. */
  async #drain(): Promise<void> {
    this.#running = true;
    while (this.#next.length > 0) {
      const waiters = this.#next;
      this.#next = [];
      try {
        const text = JSON.stringify(this.#latest, null, this.#indent || undefined);
        await this.#replace(text);
        this.writes++;
        for (const w of waiters) w.resolve();
      } catch (err) {
        for (const w of waiters) w.reject(err);
      }
    }
    this.#running = false;
  }

  async #replace(text: string): Promise<void> {
    const tmp = path.join(this.#dir, `.${this.#base}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
    const fh = await fs.open(tmp, 'wx', 0o600);
    try {
      await fh.writeFile(text, 'utf8');
      await syncFull(fh, this.#sync);
    } catch (err) {
      await fh.close().catch(() => {});
      await fs.rm(tmp, { force: true });
      throw err;
    }
    await fh.close();
    try {
      await fs.rename(tmp, this.path);
    } catch (err) {
      await fs.rm(tmp, { force: true });
      throw err;
    }
    await syncDir(this.#dir, this.#sync);
  }

  async #removeLeftovers(): Promise<void> {
    try {
      const prefix = `.${this.#base}.`;
      await removeTmpFiles(this.#dir, this.#report, (n) => n.startsWith(prefix) && n.endsWith('.tmp'));
    } catch (err) {
      if (errnoCode(err) !== 'ENOENT') throw err;
    }
  }
}
