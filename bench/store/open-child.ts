// Measures a cold start in a fresh process: FileStore.open until ready, memory after load, and
// the first "latest 50 of a room" after the restart. Prints one JSON line.
// argv: <dir> <room>

import { FileStore } from '../../src/store/file/file-store.ts';

const [dir, room] = process.argv.slice(2);
if (!dir || !room) throw new Error('usage: open-child.ts <dir> <room>');
const gc = (globalThis as { gc?: () => void }).gc;

const events: string[] = [];
const t0 = performance.now();
const store = await FileStore.open({ dir, report: (e) => events.push(e.event) });
const openMs = performance.now() - t0;
// External memory (the typed-array index) is only counted right after a few full collections.
for (let i = 0; i < 3 && gc; i++) {
  gc();
  await new Promise((r) => setTimeout(r, 10));
}
const mem = process.memoryUsage();

const t1 = performance.now();
const latest = await store.messages.page(room);
const latest50Ms = performance.now() - t1;
const t2 = performance.now();
await store.messages.page(room);
const latest50WarmMs = performance.now() - t2;
const top = latest.at(-1)?.seq ?? 0;
const t3 = performance.now();
const older = await store.messages.page(room, { beforeSeq: top - 500 });
const back500Ms = performance.now() - t3;
const t4 = performance.now();
const catchup = await store.messages.page(room, { afterSeq: top - 1000 });
const catchupMs = performance.now() - t4;
const stats = store.stats();
await store.close();

console.log(JSON.stringify({
  openMs, heapUsedMB: mem.heapUsed / 2 ** 20, arrayBuffersMB: mem.arrayBuffers / 2 ** 20, rssMB: mem.rss / 2 ** 20,
  latest50Ms, latest50WarmMs, back500Ms, catchupMs,
  pages: [latest.length, older.length, catchup.length], messages: stats.messages, segments: stats.segments, bytes: stats.bytes,
  events: [...new Set(events)],
}));
