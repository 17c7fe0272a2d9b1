// Child process of the kill -9 harness (crash-harness.ts). It opens a FileStore and runs
// concurrent writers until it is SIGKILLed. Every outcome is written to stdout with a
// synchronous write right after the promise resolves, so a line the parent reads is an
// acknowledgement that really happened, and an "attempt" line precedes every operation:
//
//   R                          store open, writers starting
//   m? <room> <cid>            append attempted        m <room> <seq> <cid>    append acknowledged
//   r <room> <seq> <cid>       retry of an earlier unacknowledged cid acknowledged
//   e <user> <id>              enqueue acknowledged
//   a? <user> <id>             ack attempted           a <user> <id> <n>       ack acknowledged
//   t? <room>                  trim attempted          t <room> <dropped>      trim acknowledged
//   ev <event>                 a store event (compaction, snapshot, ...)
//
// argv: <dir> <round> <writers> <segmentBytes> [retry.json]

import fs from 'node:fs';
import { FileStore } from './file-store.ts';

const [dir, roundArg, writersArg, segArg, retryFile] = process.argv.slice(2);
if (!dir || !roundArg || !writersArg || !segArg) throw new Error('usage: crash-child.ts <dir> <round> <writers> <segmentBytes> [retry.json]');
const round = Number(roundArg);
const writers = Number(writersArg);
const ROOMS = 8;
const USERS = 20;
/** Trim a room to KEEP messages whenever its seq crosses a multiple of TRIM_EVERY. */
const TRIM_EVERY = 400;
const KEEP = 250;

function out(line: string): void {
  const buf = Buffer.from(line + '\n');
  for (let done = 0; done < buf.length; ) {
    try {
      done += fs.writeSync(1, buf, done);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
    }
  }
}

const store = await FileStore.open({
  dir,
  segmentBytes: Number(segArg),
  report: (e) => out(`ev ${e.event}`),
  tuning: { notificationSnapshotMinRecords: 500 },
});
out('R');

const mine: { user: number; id: number }[] = [];

// Retries first: cids whose append was attempted but not acknowledged before the last kill.
if (retryFile) {
  const { retries, pending } = JSON.parse(fs.readFileSync(retryFile, 'utf8')) as {
    retries: { room: string; cid: string }[];
    pending: [number, number][];
  };
  for (const [id, user] of pending) mine.push({ user, id });
  await Promise.all(
    retries.map(async ({ room, cid }) => {
      const m = await store.messages.append(room, { from: 0, text: `retry ${cid}`, cid });
      out(`r ${room} ${m.seq} ${cid}`);
    }),
  );
}

async function writer(w: number): Promise<never> {
  for (let i = 0; ; i++) {
    const dice = Math.random();
    if (dice < 0.7) {
      const room = `room-${Math.floor(Math.random() * ROOMS)}`;
      const cid = `${round}.${w}.${i}`;
      out(`m? ${room} ${cid}`);
      const m = await store.messages.append(room, { from: w, text: `message ${cid}`, cid });
      out(`m ${room} ${m.seq} ${cid}`);
      if (m.seq % TRIM_EVERY === 0) {
        out(`t? ${room}`);
        const n = await store.messages.trim(room, KEEP);
        out(`t ${room} ${n}`);
      }
    } else if (dice < 0.85 || mine.length === 0) {
      const user = 1 + Math.floor(Math.random() * USERS);
      const [n] = await store.notifications.enqueue([user], { round, w, i });
      if (!n) throw new Error('enqueue returned nothing');
      out(`e ${user} ${n.id}`);
      mine.push({ user, id: n.id });
    } else {
      const pick = mine.splice(Math.floor(Math.random() * mine.length), 1)[0];
      if (!pick) continue;
      out(`a? ${pick.user} ${pick.id}`);
      const n = await store.notifications.ack(pick.user, [pick.id]);
      out(`a ${pick.user} ${pick.id} ${n}`);
    }
  }
}

await Promise.all(Array.from({ length: writers }, (_, w) => writer(w)));
