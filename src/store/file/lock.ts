// Single-writer lock for a data directory (storage.md §5.7). Two processes writing the same
// files each keep their own memory and silently lose each other's updates (§1, measured), so
// the second one must refuse to start.
//
// `LOCK` holds {pid, host, startedAt, token}, created with O_EXCL. A lock whose pid is dead on
// this host (or whose content is garbage) is stale and taken over, and that is reported. A lock
// from another host cannot be checked and is refused: the message says how to clear it.
//
// Known limit: two processes taking over the same stale lock at the same instant can both
// succeed; the re-read after writing narrows that window but does not close it.

import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { StoreError } from '../types.ts';
import { errnoCode, type Reporter } from './fsutil.ts';

interface LockInfo {
  pid: number;
  host: string;
  startedAt: string;
  token?: string;
}

/** Lock files held by this process: same pid in the file does not mean stale if we hold it. */
const heldHere = new Set<string>();

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return errnoCode(err) === 'EPERM'; // exists, owned by someone else
  }
}

function parse(text: string): LockInfo | undefined {
  try {
    const v = JSON.parse(text) as Partial<LockInfo>;
    if (typeof v.pid === 'number' && Number.isInteger(v.pid) && v.pid > 0 && typeof v.host === 'string') {
      return { pid: v.pid, host: v.host, startedAt: String(v.startedAt), token: v.token };
    }
  } catch {
    // garbage: treated as stale
  }
  return undefined;
}

/** LOCK.<pid>.<token>.tmp files left by a process killed while acquiring. */
async function removeStaleTmps(dir: string, mine: string): Promise<void> {
  for (const name of await fs.readdir(dir)) {
    const p = path.join(dir, name);
    const pid = Number(/^LOCK\.(\d+)\.[0-9a-f]+\.tmp$/.exec(name)?.[1]);
    if (pid > 0 && p !== mine && !pidAlive(pid)) await fs.rm(p, { force: true });
  }
}

export class DirLock {
  readonly path: string;
  readonly dir: string;
  #token: string;
  #released = false;

  private constructor(dir: string, token: string) {
    this.dir = dir;
    this.path = path.join(dir, 'LOCK');
    this.#token = token;
  }

  static async acquire(dir: string, report: Reporter): Promise<DirLock> {
    const abs = path.resolve(dir);
    const lock = new DirLock(abs, randomBytes(8).toString('hex'));
    const info: LockInfo = { pid: process.pid, host: os.hostname(), startedAt: new Date().toISOString(), token: lock.#token };
    const body = JSON.stringify(info) + '\n';
    // link(2) publishes the file with its content in one step: a racing reader never sees an
    // empty LOCK and mistakes it for garbage.
    const tmp = `${lock.path}.${process.pid}.${lock.#token}.tmp`;
    await fs.writeFile(tmp, body, { mode: 0o600 });
    try {
      return await lock.#publish(tmp, abs, report);
    } finally {
      await fs.rm(tmp, { force: true });
    }
  }

  async #publish(tmp: string, abs: string, report: Reporter): Promise<DirLock> {
    const lock = this;
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        await fs.link(tmp, lock.path);
      } catch (err) {
        if (errnoCode(err) !== 'EEXIST') throw err;
        await lock.#handleExisting(report);
        continue;
      }
      // Re-read: if a racing process replaced our file, it holds the lock, not us.
      const now = parse(await fs.readFile(lock.path, 'utf8').catch(() => ''));
      if (now?.token !== lock.#token) continue;
      heldHere.add(lock.path);
      await removeStaleTmps(lock.dir, tmp);
      return lock;
    }
    throw new StoreError('ELOCKED', `data directory ${abs} is locked (${lock.path} keeps changing); is another flashhub starting?`);
  }

  /** Throws ELOCKED if the existing lock is live; removes it if stale. */
  async #handleExisting(report: Reporter): Promise<void> {
    let text: string;
    try {
      text = await fs.readFile(this.path, 'utf8');
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return; // released meanwhile: try again
      throw err;
    }
    const held = parse(text);
    if (held) {
      const sameHost = held.host === os.hostname();
      if (!sameHost) {
        throw new StoreError(
          'ELOCKED',
          `data directory ${this.dir} is in use by flashhub process ${held.pid} on host ${held.host}; stop it or use another --data (if that host is gone, delete ${this.path})`,
        );
      }
      const ours = held.pid === process.pid && heldHere.has(this.path);
      if (ours || (held.pid !== process.pid && pidAlive(held.pid))) {
        throw new StoreError('ELOCKED', `data directory ${this.dir} is in use by flashhub process ${held.pid}; stop it or use another --data`);
      }
    }
    // Stale: re-check the content right before removing, so we never remove a fresh lock.
    const again = await fs.readFile(this.path, 'utf8').catch(() => undefined);
    if (again !== text) return;
    await fs.rm(this.path, { force: true });
    report({
      level: 'warn',
      event: 'lock_taken_over',
      path: this.path,
      detail: held ? { pid: held.pid, host: held.host, startedAt: held.startedAt, reason: 'process is gone' } : { reason: 'unreadable lock file' },
    });
  }

  /** Removes the lock if it is still ours. Idempotent. */
  async release(): Promise<void> {
    if (this.#released) return;
    this.#released = true;
    heldHere.delete(this.path);
    const now = parse(await fs.readFile(this.path, 'utf8').catch(() => ''));
    if (now?.token === this.#token) await fs.rm(this.path, { force: true });
  }
}
