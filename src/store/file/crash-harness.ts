// kill -9 harness: runs crash-child.ts against one data directory, SIGKILLs it at a random
// moment, reopens the store in this process and checks that nothing acknowledged was lost:
//
// - every acknowledged message is present (unless a trim of its room was attempted and it is
//   below the room's first retained seq), exactly once (a cid appears once per room, and a
//   retried cid returns the seq the store already had);
// - per-room seqs have no gaps between the first retained and the latest, never go backwards,
//   and the first retained seq never decreases;
// - every acknowledged enqueue is still pending unless an ack of it was attempted, and no
//   acknowledged ack comes back; notification ids keep increasing across restarts.
//
// Used by crash.test.ts and by bench/store.ts.

import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { FileStore } from './file-store.ts';
import type { StoreEvent } from './fsutil.ts';

export interface CrashOptions {
  dir: string;
  rounds: number;
  writers?: number;
  segmentBytes?: number;
  minKillMs?: number;
  maxKillMs?: number;
  node?: string;
  onRound?: (round: number, summary: CrashSummary) => void;
}

export interface CrashSummary {
  rounds: number;
  ackedMessages: number;
  ackedEnqueues: number;
  ackedAcks: number;
  retries: number;
  lostMessages: number;
  duplicateMessages: number;
  seqProblems: number;
  lostNotifications: number;
  resurrectedNotifications: number;
  tailTruncations: number;
  staleLocks: number;
  compactions: number;
  snapshots: number;
  /** Human-readable descriptions of the first violations found. */
  violations: string[];
}

interface RoomModel {
  /** cid → seq of every message seen in the store */
  cids: Map<string, number>;
  /** seqs 1..verified have been checked */
  verified: number;
  first: number;
  latest: number;
  trimAttempted: boolean;
}

const CHILD = new URL('./crash-child.ts', import.meta.url);

function violation(s: CrashSummary, what: string): void {
  if (s.violations.length < 20) s.violations.push(what);
}

export async function runCrashRounds(o: CrashOptions): Promise<CrashSummary> {
  const writers = o.writers ?? 16;
  const segmentBytes = o.segmentBytes ?? 256 * 1024;
  const minKill = o.minKillMs ?? 30;
  const maxKill = o.maxKillMs ?? 600;
  const s: CrashSummary = {
    rounds: 0, ackedMessages: 0, ackedEnqueues: 0, ackedAcks: 0, retries: 0, lostMessages: 0, duplicateMessages: 0,
    seqProblems: 0, lostNotifications: 0, resurrectedNotifications: 0, tailTruncations: 0, staleLocks: 0, compactions: 0, snapshots: 0, violations: [],
  };
  const rooms = new Map<string, RoomModel>();
  /** acknowledged enqueues not yet known to be acked: id → user */
  const pendingModel = new Map<number, number>();
  const ackedIds = new Set<number>();
  let maxNotifId = 0;
  /** retries handed to the next child: cid → seq the store already had (or null) */
  let retryExpect = new Map<string, { room: string; seq: number | null }>();

  for (let round = 1; round <= o.rounds; round++) {
    const retryFile = path.join(path.dirname(o.dir), `retry-${path.basename(o.dir)}.json`);
    const retries = [...retryExpect.entries()].map(([cid, r]) => ({ room: r.room, cid }));
    // Older pending notifications are handed over too, so acks (and snapshots) span restarts.
    const pending = [...pendingModel].slice(-5000);
    await fs.writeFile(retryFile, JSON.stringify({ retries, pending }));
    const lines = await runChild(o.node ?? process.execPath, [o.dir, String(round), String(writers), String(segmentBytes), retryFile], minKill, maxKill);
    await fs.rm(retryFile, { force: true });

    // ---- what the child claims
    const acked: { room: string; seq: number; cid: string }[] = [];
    const attempted = new Map<string, string>(); // cid → room
    const ackAttempted = new Set<number>();
    const ackDone: number[] = [];
    for (const line of lines) {
      const [k, a, b, c] = line.split(' ');
      if (k === 'm?' && a && b) attempted.set(b, a);
      else if ((k === 'm' || k === 'r') && a && b && c) {
        acked.push({ room: a, seq: Number(b), cid: c });
        attempted.delete(c);
        if (k === 'r') {
          s.retries++;
          const want = retryExpect.get(c);
          if (want?.seq != null && want.seq !== Number(b)) {
            s.duplicateMessages++;
            violation(s, `round ${round}: retry of ${c} in ${a} got seq ${b}, the store already had it at ${want.seq}`);
          }
        }
      } else if (k === 'e' && a && b) {
        const id = Number(b);
        if (id <= maxNotifId) violation(s, `round ${round}: notification id ${id} not above earlier id ${maxNotifId}`);
        pendingModel.set(id, Number(a));
        s.ackedEnqueues++;
      } else if (k === 'a?' && b) ackAttempted.add(Number(b));
      else if (k === 'a' && b) ackDone.push(Number(b));
      else if (k === 't?' && a) modelOf(rooms, a).trimAttempted = true;
      else if (k === 'ev' && a === 'segment_compacted') s.compactions++;
      else if (k === 'ev' && a === 'notifications_snapshot') s.snapshots++;
    }
    // Retries whose cid never got an answer are retried again next round.
    for (const [cid, r] of retryExpect) if (!acked.some((m) => m.cid === cid)) attempted.set(cid, r.room);
    s.ackedMessages += acked.length;
    s.ackedAcks += ackDone.length;
    for (const id of ackAttempted) pendingModel.delete(id);
    for (const id of ackDone) ackedIds.add(id);

    // ---- what the store says after recovery
    const events: StoreEvent[] = [];
    const store = await FileStore.open({
      dir: o.dir,
      segmentBytes,
      report: (e) => events.push(e),
      tuning: { notificationSnapshotMinRecords: 500 },
    });
    try {
      s.tailTruncations += events.filter((e) => e.event === 'tail_truncated').length;
      s.staleLocks += events.filter((e) => e.event === 'lock_taken_over').length;
      s.compactions += events.filter((e) => e.event === 'segment_compacted').length;
      s.snapshots += events.filter((e) => e.event === 'notifications_snapshot').length;
      const byRoom = new Map<string, { seq: number; cid: string }[]>();
      for (const m of acked) {
        let l = byRoom.get(m.room);
        if (!l) byRoom.set(m.room, (l = []));
        l.push(m);
      }
      const roomNames = new Set([...rooms.keys(), ...byRoom.keys(), ...[...attempted.values()]]);
      const found = new Map<string, number>(); // cid → seq, for messages new this round
      for (const room of roomNames) {
        const model = modelOf(rooms, room);
        const latest = await store.messages.latestSeq(room);
        const count = await store.messages.count(room);
        const first = (await store.messages.page(room, { afterSeq: 0, limit: 1 }))[0]?.seq ?? latest + 1;
        if (latest < model.latest) {
          s.seqProblems++;
          violation(s, `round ${round}: ${room} latest seq went back from ${model.latest} to ${latest}`);
        }
        if (first < model.first) {
          s.seqProblems++;
          violation(s, `round ${round}: ${room} first seq went back from ${model.first} to ${first}`);
        }
        if (count !== latest - first + 1) {
          s.seqProblems++;
          violation(s, `round ${round}: ${room} has ${count} messages between seq ${first} and ${latest}: gaps`);
        }
        // Scan what is new since the last verification: unique cids, strictly increasing seqs.
        let prev = Math.max(model.verified, first - 1);
        for (;;) {
          const page = await store.messages.page(room, { afterSeq: prev, limit: 500 });
          if (page.length === 0) break;
          for (const m of page) {
            if (m.seq !== prev + 1) {
              s.seqProblems++;
              violation(s, `round ${round}: ${room} seq ${m.seq} follows ${prev}`);
            }
            prev = m.seq;
            if (m.cid !== undefined) {
              if (model.cids.has(m.cid)) {
                s.duplicateMessages++;
                violation(s, `round ${round}: ${room} cid ${m.cid} stored twice (again at seq ${m.seq})`);
              }
              model.cids.set(m.cid, m.seq);
              found.set(m.cid, m.seq);
            }
          }
        }
        for (const m of byRoom.get(room) ?? []) {
          if (m.seq < first && model.trimAttempted) continue;
          const got = await store.messages.get(room, m.seq);
          if (got?.cid !== m.cid) {
            s.lostMessages++;
            violation(s, `round ${round}: acknowledged ${room}#${m.seq} (${m.cid}) is ${got ? `now ${got.cid}` : 'missing'}`);
          }
        }
        model.verified = Math.max(model.verified, latest);
        model.first = first;
        model.latest = latest;
      }

      // Notifications.
      const pendingNow = new Map<number, number>();
      for (let user = 1; user <= 20; user++) {
        for (let after = 0; ; ) {
          const p = await store.notifications.pending(user, { afterId: after, limit: 1000 });
          if (p.length === 0) break;
          for (const n of p) {
            pendingNow.set(n.id, n.user);
            if (n.id > maxNotifId) maxNotifId = n.id;
          }
          after = (p.at(-1) as { id: number }).id;
        }
      }
      for (const [id, user] of pendingModel) {
        if (pendingNow.get(id) !== user) {
          s.lostNotifications++;
          violation(s, `round ${round}: acknowledged notification ${id} for user ${user} is not pending`);
        }
      }
      for (const id of ackedIds) {
        if (pendingNow.has(id)) {
          s.resurrectedNotifications++;
          violation(s, `round ${round}: acknowledged ack of notification ${id} came back`);
        }
      }
      for (const id of pendingModel.keys()) if (id > maxNotifId) maxNotifId = id;

      // Next round retries every cid attempted but not acknowledged; note what the store has.
      retryExpect = new Map([...attempted].map(([cid, room]) => [cid, { room, seq: found.get(cid) ?? findIn(rooms, room, cid) }]));
    } finally {
      await store.close();
    }
    s.rounds = round;
    o.onRound?.(round, s);
  }
  return s;
}

function modelOf(rooms: Map<string, RoomModel>, room: string): RoomModel {
  let m = rooms.get(room);
  if (!m) rooms.set(room, (m = { cids: new Map(), verified: 0, first: 1, latest: 0, trimAttempted: false }));
  return m;
}

/** Seq of a cid the store already had (stored in an earlier round), or null. */
function findIn(rooms: Map<string, RoomModel>, room: string, cid: string): number | null {
  return rooms.get(room)?.cids.get(cid) ?? null;
}

/** Runs the child until a random moment after it reports ready, SIGKILLs it, returns its stdout lines. */
function runChild(node: string, args: string[], minKill: number, maxKill: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(node, [CHILD.pathname, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let buf = '';
    let err = '';
    let timer: NodeJS.Timeout | undefined;
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d: string) => {
      if (timer === undefined && (buf + d).startsWith('R\n')) {
        timer = setTimeout(() => child.kill('SIGKILL'), minKill + Math.random() * (maxKill - minKill));
      }
      buf += d;
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d: string) => (err += d));
    const guard = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(guard);
      if (timer) clearTimeout(timer);
      if (signal !== 'SIGKILL') {
        reject(new Error(`crash child exited with ${code ?? signal} before the kill:\n${err}`));
        return;
      }
      const lines = buf.split('\n');
      lines.pop(); // a line cut by the kill is not an acknowledgement
      resolve(lines);
    });
  });
}
