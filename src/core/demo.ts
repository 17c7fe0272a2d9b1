// --demo: the seeds' own sample data, so their documented examples work on a fresh server.
// Loaded only where missing, so restarting with --demo changes nothing.
import type { Core } from './core.ts';
import type { UserId } from '../store/types.ts';

// Seed 002 (LendAHand's seed_data.py): Adam, Kyle and Taylor, ids 1 to 3 on a fresh directory.
const chatUsers = ['Adam', 'Kyle', 'Taylor'];
const generalMessages = [
  "Hey what's up?",
  "What's going on?",
  "How's everything?",
  'Hey nice to see you!',
  "How's the final project going?",
];
const greetings = ['Hey', "What's up?", "How's it going?"];

// Seed 001's three sample accounts of the identity service, all with password start123.
const presenceUsers = ['user@volunteer-vision.com', 'client@volunteer-vision.com', 'service@volunteer-vision.com'];
const presencePassword = 'start123';

export async function loadDemo(core: Core): Promise<void> {
  const ids: UserId[] = [];
  for (const username of chatUsers) ids.push(await ensureUser(core, username));
  // Seed 002's data has all three online (its login marked users online for good).
  for (const id of ids) core.presence.hold(id);
  for (const username of presenceUsers) await ensureUser(core, username, presencePassword);
  await ensureRoom(core, '0', 'public', ids, 'General', generalMessages.map((text, i) => ({ from: ids[i % ids.length]!, text })));
  for (const [a, b] of [[0, 1], [0, 2], [1, 2]] as const) {
    const [low, high] = [ids[a]!, ids[b]!].sort((x, y) => x - y) as [UserId, UserId];
    await ensureRoom(core, `${low}:${high}`, 'private', [low, high], undefined, [
      { from: low, text: greetings[(a + b) % greetings.length]! },
      { from: high, text: greetings[(a + b + 1) % greetings.length]! },
    ]);
  }
}

async function ensureUser(core: Core, username: string, password?: string): Promise<UserId> {
  const existing = await core.directory.findUser(username);
  return existing ? existing.id : (await core.directory.addUser({ username, password })).id;
}

async function ensureRoom(
  core: Core,
  id: string,
  kind: 'public' | 'private',
  members: UserId[],
  name: string | undefined,
  messages: { from: UserId; text: string }[],
): Promise<void> {
  if (!(await core.store.meta.getRoom(id))) await core.store.meta.putRoom({ id, kind, name, members, createdAt: Date.now() });
  // The cids make this idempotent, so a start interrupted halfway completes the room next time.
  if ((await core.store.messages.latestSeq(id)) >= messages.length) return;
  for (const [i, message] of messages.entries()) await core.store.messages.append(id, { ...message, cid: `demo-${i}` });
}
