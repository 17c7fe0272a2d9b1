// Small filesystem helpers shared by the file store: durability primitives and the event type
// through which the store reports what it did to the caller's logger (it never logs itself).

import fs from 'node:fs/promises';
import path from 'node:path';
import { StoreError } from '../types.ts';

export type SyncMode = 'fdatasync' | 'fsync' | 'none';

export interface StoreEvent {
  level: 'info' | 'warn' | 'error';
  event: string;
  path?: string;
  detail?: Record<string, unknown>;
}

export type Reporter = (event: StoreEvent) => void;

export const noReport: Reporter = () => {};

/** Data sync for log appends: fdatasync skips the inode timestamps, which recovery never needs. */
export async function syncData(fh: fs.FileHandle, mode: SyncMode): Promise<void> {
  if (mode === 'fdatasync') await fh.datasync();
  else if (mode === 'fsync') await fh.sync();
}

/** Full sync for new files and renames: their size and existence are metadata. */
export async function syncFull(fh: fs.FileHandle, mode: SyncMode): Promise<void> {
  if (mode !== 'none') await fh.sync();
}

/** Makes a create, rename or unlink in `dir` durable. */
export async function syncDir(dir: string, mode: SyncMode): Promise<void> {
  // Windows cannot open a directory for fsync (EPERM); NTFS journals renames and creations itself.
  if (mode === 'none' || process.platform === 'win32') return;
  const fh = await fs.open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Writes all of buf at `position`, looping over short writes. */
export async function writeFully(fh: fs.FileHandle, buf: Uint8Array, position: number): Promise<void> {
  let done = 0;
  while (done < buf.length) {
    const { bytesWritten } = await fh.write(buf, done, buf.length - done, position + done);
    if (bytesWritten <= 0) throw new Error('short write');
    done += bytesWritten;
  }
}

/** Reads exactly `length` bytes at `position`; a short read means the file is shorter than the index says. */
export async function readExactly(fh: fs.FileHandle, position: number, length: number, file: string): Promise<Buffer> {
  const buf = Buffer.allocUnsafe(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await fh.read(buf, done, length - done, position + done);
    if (bytesRead === 0) {
      throw new StoreError('ECORRUPT', `${file}: expected ${length} bytes at offset ${position}, the file ends early`);
    }
    done += bytesRead;
  }
  return buf;
}

/**
 * Creates a directory (and parents) with mode 0700 if it does not exist, and makes each new
 * directory entry durable: files fsynced inside a directory whose own entry was lost are lost too.
 */
export async function ensureDir(dir: string, sync: SyncMode = 'fsync'): Promise<void> {
  const first = await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  if (first === undefined) return;
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    await syncDir(path.dirname(d), sync);
    if (d === path.resolve(first) || d === path.dirname(d)) break;
  }
}

/** Removes `*.tmp` leftovers of interrupted writes; only safe while holding the directory lock. */
export async function removeTmpFiles(dir: string, report: Reporter, match: (name: string) => boolean = (n) => n.endsWith('.tmp')): Promise<number> {
  let removed = 0;
  for (const name of await fs.readdir(dir)) {
    if (!match(name)) continue;
    const p = path.join(dir, name);
    await fs.rm(p, { force: true });
    report({ level: 'warn', event: 'tmp_removed', path: p, detail: { reason: 'left over by an interrupted write' } });
    removed++;
  }
  return removed;
}

export function errnoCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : undefined;
}
