// Helpers for the file store's tests: temporary directories that are always removed.

import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { StoreEvent } from './fsutil.ts';

export async function withTmpDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'flashhub-store-'));
  let result: T;
  try {
    result = await fn(dir);
  } catch (err) {
    // A failed test may leave a store open with background work still writing; never let the
    // cleanup error hide the real failure.
    await fs.rm(dir, { recursive: true, force: true, maxRetries: 5 }).catch(() => {});
    throw err;
  }
  await fs.rm(dir, { recursive: true, force: true });
  return result;
}

/** A report function that records events for assertions. */
export function recorder(): { events: StoreEvent[]; report: (e: StoreEvent) => void; find: (name: string) => StoreEvent | undefined } {
  const events: StoreEvent[] = [];
  return { events, report: (e) => events.push(e), find: (name) => events.find((e) => e.event === name) };
}
