// The Store contract (../contract.ts) against the Redis store: one real redis-server for the
// file, each test under its own key prefix (which also shows that prefixes keep stores apart).

import { after } from 'node:test';
import { startRedis } from '../../../test/support/redis.ts';
import { storeContract } from '../contract.ts';
import { RedisStore } from './redis-store.ts';

const redis = await startRedis();
after(() => redis.stop());
let subjects = 0;

storeContract('redis', async () => {
  const keyPrefix = `contract-${++subjects}:`;
  const opened: RedisStore[] = [await RedisStore.open({ url: redis.url, keyPrefix })];
  return {
    store: opened[0] as RedisStore,
    async reopen() {
      const store = await RedisStore.open({ url: redis.url, keyPrefix });
      opened.push(store);
      return store;
    },
    async cleanup() {
      await Promise.allSettled(opened.map((s) => s.close()));
    },
  };
});
