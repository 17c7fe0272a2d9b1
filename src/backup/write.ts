// Turns what a store holds (its StoreExport) into the text of a backup file, a chunk at a time: the
// consumer pulls, so a slow destination (a pipe, the admin socket) slows the reading of the store
// instead of filling memory. Used by the CLI on a store it opened itself and by a running server
// for its admin socket, so both write the same file.

import { commit, version } from '../version.ts';
import type { StoreExport } from '../store/transfer.ts';
import { COUNTED_AS, FORMAT_NAME, FORMAT_VERSION, emptyInventory, encodeHeader, encodeRecord, type BackupKind, type BackupRecords } from './format.ts';

/** Lines are joined into chunks of about this size: one write per record would be slow for millions. */
const CHUNK_CHARS = 256 * 1024;

export async function* backupText(store: StoreExport, storeKind: 'file' | 'redis'): AsyncGenerator<string> {
  const counts = emptyInventory();
  const inventory = await store.inventory();
  yield encodeHeader({ format: FORMAT_NAME, version: FORMAT_VERSION, flashhub: version, commit, createdAt: new Date().toISOString(), store: storeKind, inventory });

  const lines = <K extends BackupKind>(kind: K, records: BackupRecords[K][]): string[] => {
    const counted = COUNTED_AS[kind];
    if (counted !== undefined) counts[counted] += records.length;
    return records.map((record) => encodeRecord(kind, record));
  };
  yield* chunked(pagesOf('user', store.users(), lines));
  yield* chunked(pagesOf('client', store.clients(), lines));
  yield* chunked(pagesOf('group', store.groups(), lines));
  yield* chunked(pagesOf('room', store.rooms(), lines));
  yield* chunked(historyLines(store, lines));
  yield* chunked(pagesOf('notification', store.notifications(), lines));
  for await (const page of store.secrets()) {
    yield lines('secret', page.map((s) => ({ name: s.name, base64: Buffer.from(s.value).toString('base64') }))).join('');
  }
  // Read last: then they lie above every id written before, even ids made during the export.
  yield lines('counters', [await store.counters()]).join('');
  yield lines('end', [counts]).join('');
}

type Lines = <K extends BackupKind>(kind: K, records: BackupRecords[K][]) => string[];

async function* pagesOf<K extends BackupKind>(kind: K, pages: AsyncIterable<BackupRecords[K][]>, lines: Lines): AsyncGenerator<string[]> {
  for await (const page of pages) yield lines(kind, page);
}

/** Each room's history line, then its messages. */
async function* historyLines(store: StoreExport, lines: Lines): AsyncGenerator<string[]> {
  for await (const page of store.histories()) {
    for (const history of page) {
      yield lines('history', [history]);
      for await (const messages of store.messages(history.room)) yield lines('message', messages);
    }
  }
}

/** Pages of lines as chunks of about CHUNK_CHARS. */
async function* chunked(pages: AsyncIterable<string[]>): AsyncGenerator<string> {
  let chunk = '';
  for await (const page of pages) {
    for (const line of page) {
      chunk += line;
      if (chunk.length >= CHUNK_CHARS) {
        yield chunk;
        chunk = '';
      }
    }
  }
  if (chunk !== '') yield chunk;
}
