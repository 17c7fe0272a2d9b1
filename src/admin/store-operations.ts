// The admin operation behind `flashhub export` while a server runs: the server holds its store (the
// file store's lock keeps every other process out), so it reads the store itself and streams the
// backup over the admin socket, a chunk at a time, as fast as the CLI writes it out.
import { backupText } from '../backup/write.ts';
import type { TransferableStore } from '../store/transfer.ts';
import type { Store } from '../store/types.ts';
import type { AdminOperations } from './operations.ts';
import { AdminStream } from './stream.ts';

export function storeOperations(store: Store | undefined): AdminOperations {
  if (store === undefined || !transferable(store)) return {};
  return {
    'store.export': async () => new AdminStream(backupText(store.export, store.kind)),
  };
}

/** Both stores are; a store made for a test may not be. */
function transferable(store: Store): store is TransferableStore {
  return 'export' in store && 'import' in store;
}
