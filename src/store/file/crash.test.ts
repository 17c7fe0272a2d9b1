// kill -9 test: see crash-harness.ts for what is checked. FLASHHUB_CRASH_ROUNDS raises the
// number of rounds (default 25, about half a minute).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { runCrashRounds } from './crash-harness.ts';
import { withTmpDir } from './test-util.ts';

const rounds = Number(process.env.FLASHHUB_CRASH_ROUNDS ?? 25);

test(`kill -9 at random moments loses nothing acknowledged (${rounds} rounds)`, { timeout: Math.max(120_000, rounds * 5_000) }, () =>
  withTmpDir(async (tmp) => {
    const s = await runCrashRounds({ dir: path.join(tmp, 'data'), rounds, writers: 16, segmentBytes: 128 * 1024 });
    assert.deepEqual(s.violations, []);
    assert.equal(s.lostMessages, 0);
    assert.equal(s.duplicateMessages, 0);
    assert.equal(s.seqProblems, 0);
    assert.equal(s.lostNotifications, 0);
    assert.equal(s.resurrectedNotifications, 0);
    assert.equal(s.rounds, rounds);
    assert.ok(s.ackedMessages > rounds * 50, `the child made progress (${s.ackedMessages} messages)`);
    assert.ok(s.staleLocks >= rounds - 1, 'every kill left a stale lock that was taken over');
  }));
