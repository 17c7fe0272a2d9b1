// The Store contract (../contract.ts) against the file store, each test in a fresh data directory.

import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { storeContract } from '../contract.ts';
import { FileStore } from './file-store.ts';

storeContract(
  'file',
  async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'flashhub-contract-'));
    const opened: FileStore[] = [await FileStore.open({ dir })];
    return {
      store: opened[0] as FileStore,
      async reopen() {
        const store = await FileStore.open({ dir });
        opened.push(store);
        return store;
      },
      async cleanup() {
        await Promise.allSettled(opened.map((s) => s.close()));
        await fs.rm(dir, { recursive: true, force: true, maxRetries: 5 });
      },
    };
  }
);
