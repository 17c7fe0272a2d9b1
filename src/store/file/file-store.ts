// The embedded store: one data directory, one writer process (DESIGN.md §6, storage.md §5).
//
//   <dir>/LOCK                     single-writer lock
//   <dir>/meta.json                lowdb document: users, clients, groups, rooms (0600)
//   <dir>/messages/seg-*.jsonl     message log (+ seg-*.idx sidecars for sealed segments)
//   <dir>/notifications/seg-*.jsonl pending notifications
//   <dir>/secrets/<name>.key       named random secrets (0600)
//
// Recovery events (torn tail truncated, stale lock taken over, tmp files removed, compaction,
// retention) go to `report`, never to the console: the server decides how to log them.

import fs from 'node:fs/promises';
import path from 'node:path';
import type { StoreExport, StoreImport, TransferableStore } from '../transfer.ts';
import { StoreError, type StoreStats } from '../types.ts';
import { ensureDir, errnoCode, noReport, removeTmpFiles, type Reporter, type StoreEvent, type SyncMode } from './fsutil.ts';
import { DirLock } from './lock.ts';
import { FileMessageStore } from './message-store.ts';
import { FileMetaStore } from './meta-store.ts';
import { FileNotificationStore } from './notification-store.ts';
import { readOrCreateSecret } from './secret-file.ts';
import { FileStoreExport, FileStoreImport } from './transfer.ts';

export type { StoreEvent, SyncMode };

export interface FileStoreOptions {
  dir: string;
  sync?: SyncMode;
  /** Message and notification segment size; 64 MiB by default (small values are for tests). */
  segmentBytes?: number;
  /** maxAgeMs: sealed message segments whose newest message is older are deleted. */
  retention?: { maxAgeMs?: number };
  report?: (event: StoreEvent) => void;
  /** Thresholds for tests and benchmarks; the defaults suit production. */
  tuning?: {
    /** Notification snapshots wait until the log holds this many records (default 10,000). */
    notificationSnapshotMinRecords?: number;
  };
}

export class FileStore implements TransferableStore {
  readonly kind = 'file' as const;
  readonly dir: string;
  readonly meta: FileMetaStore;
  readonly messages: FileMessageStore;
  readonly notifications: FileNotificationStore;
  /** flashhub migrate: everything read out, and records from another store written in. */
  readonly export: StoreExport;
  readonly import: StoreImport;
  #lock: DirLock;
  #sync: SyncMode;
  #closing: Promise<void> | undefined;

  private constructor(
    dir: string,
    lock: DirLock,
    sync: SyncMode,
    parts: { meta: FileMetaStore; messages: FileMessageStore; notifications: FileNotificationStore },
  ) {
    this.dir = dir;
    this.#lock = lock;
    this.#sync = sync;
    this.meta = parts.meta;
    this.messages = parts.messages;
    this.notifications = parts.notifications;
    const transfer = { ...parts, secretsDir: path.join(dir, 'secrets'), sync };
    this.export = new FileStoreExport(transfer);
    this.import = new FileStoreImport(transfer);
  }

  /** Takes the directory lock, then recovers metadata, messages and notifications. */
  static async open(options: FileStoreOptions): Promise<FileStore> {
    const dir = path.resolve(options.dir);
    const report: Reporter = options.report ?? noReport;
    const sync = options.sync ?? 'fdatasync';
    await ensureDir(dir, sync);
    const lock = await DirLock.acquire(dir, report);
    const opened: { close(): Promise<void> }[] = [];
    try {
      const meta = await FileMetaStore.open({ file: path.join(dir, 'meta.json'), sync: sync === 'none' ? 'none' : 'fsync', report });
      opened.push(meta);
      const messages = await FileMessageStore.open({
        dir: path.join(dir, 'messages'),
        sync,
        segmentBytes: options.segmentBytes,
        retention: options.retention,
        report,
      });
      opened.push(messages);
      const notifications = await FileNotificationStore.open({
        dir: path.join(dir, 'notifications'),
        sync,
        segmentBytes: options.segmentBytes,
        snapshotMinRecords: options.tuning?.notificationSnapshotMinRecords,
        report,
      });
      opened.push(notifications);
      await removeSecretLeftovers(path.join(dir, 'secrets'), report);
      return new FileStore(dir, lock, sync, { meta, messages, notifications });
    } catch (err) {
      for (const part of opened.reverse()) await part.close().catch(() => {});
      await lock.release();
      throw err;
    }
  }

  secret(name: string, bytes: number): Promise<Uint8Array> {
    if (this.#closing) return Promise.reject(new StoreError('ECLOSED', 'store is closed'));
    return readOrCreateSecret(path.join(this.dir, 'secrets'), name, bytes, this.#sync);
  }

  /** A local directory is always there; a failing disk shows as errors, not as unreadiness. */
  ready(): boolean {
    return true;
  }

  stats(): StoreStats {
    const m = this.messages.stats();
    const n = this.notifications.stats();
    return { messages: m.messages, pendingNotifications: n.pending, segments: m.segments + n.segments, bytes: m.bytes + n.bytes };
  }

  /** Flushes queued writes, closes every file and releases the lock. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      const results = await Promise.allSettled([this.messages.close(), this.notifications.close(), this.meta.close()]);
      await this.#lock.release();
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
    })();
    return this.#closing;
  }
}

async function removeSecretLeftovers(dir: string, report: Reporter): Promise<void> {
  try {
    await removeTmpFiles(dir, report);
  } catch (err) {
    if (errnoCode(err) !== 'ENOENT') throw err;
  }
  await fs.chmod(dir, 0o700).catch(() => {});
}
