// Fills a data directory with N messages across `rooms` rooms using many concurrent writers, in
// its own process so the parent's heap stays small for the start-up measurement. Prints JSON.
// argv: <dir> <messages> <rooms> <writers>

import { FileStore } from '../../src/store/file/file-store.ts';

const [dir, nArg, roomsArg, writersArg] = process.argv.slice(2);
if (!dir || !nArg || !roomsArg || !writersArg) throw new Error('usage: fill-child.ts <dir> <messages> <rooms> <writers>');
const n = Number(nArg);
const rooms = Number(roomsArg);
const writers = Number(writersArg);

const store = await FileStore.open({ dir });
let next = 0;
const t0 = performance.now();
await Promise.all(
  Array.from({ length: writers }, async (_, w) => {
    for (let i = next++; i < n; i = next++) {
      await store.messages.append(`room-${i % rooms}`, { from: w, text: `hello, this is chat message number ${i} with a bit of text` });
    }
  }),
);
const seconds = (performance.now() - t0) / 1000;
await store.messages.idle();
const st = store.stats();
await store.close();
console.log(JSON.stringify({ rate: n / seconds, seconds, bytes: st.bytes, segments: st.segments }));
