// Getting messages to sockets. A message is stored first, then published on the bus once; each node
// writes it to the dm sockets it holds, with seed 004's fan-out (controllers/chat.go BroadcastFilter):
// every socket of the recipient, whatever chat it opened, and the sender's other sockets, never the
// socket it came from.
//
// A socket that just opened first gets what its user missed (past their delivery cursors, oldest
// first across conversations; for the chat it opened, after ?after= when given), then live messages.
// Live messages that arrive during that replay are held back and sent after it, so nothing is sent
// twice or out of order.
import type { Core } from '../../core/core.ts';
import { closeReasons, SharedFrame, type CloseReason, type Session } from '../../core/session.ts';
import { isUnavailable, type StoredMessage, type UserId } from '../../store/types.ts';
import { peerIn, type Conversations } from './conversation.ts';
import type { Cursors } from './cursors.ts';
import { errorFrame, gapFrame } from './frames.ts';

const channel = 'dm';
const replayPageSize = 200;
/** Live messages held for one socket while it replays; a socket that falls this far behind is dropped. */
const maxHeld = 10_000;
export const internalError: CloseReason = { code: 1011, text: 'internal error' };

interface DmEvent {
  room: string;
  seq: number;
  from: UserId;
  to: UserId;
  /** Session id of the socket that sent it: it never gets its own message back. */
  origin: string;
  frame: string;
}

/** Resume the opened chat after the last id the client saw. */
export interface Resume {
  room: string;
  after: number;
}

interface SocketState {
  userId: UserId;
  /** Bytes the socket has not written yet (replay waits while it is high). */
  buffered: () => number;
  replaying: boolean;
  held: DmEvent[];
  /** room#seq written by the replay, so a held copy is not written again. */
  replayed: Set<string>;
  /** room#seq this socket sent while replaying: the replay must not send them back. */
  originated: Set<string>;
  /** This socket's messages, stored and published one after the other. */
  posting: Promise<void>;
}

interface Source {
  room: string;
  explicit: boolean;
  start: number;
  next: number;
  buffer: StoredMessage[];
  done: boolean;
  checkedGap: boolean;
}

const keyOf = (room: string, seq: number) => `${room}#${seq}`;

export class Deliveries {
  readonly #core: Core;
  readonly #conversations: Conversations;
  readonly #cursors: Cursors;
  readonly #sockets = new Map<Session, SocketState>();
  readonly #unsubscribe: () => void;

  constructor(core: Core, conversations: Conversations, cursors: Cursors) {
    this.#core = core;
    this.#conversations = conversations;
    this.#cursors = cursors;
    this.#unsubscribe = core.bus.subscribe(channel, (event) => this.#deliver(event as DmEvent));
  }

  /**
   * Starts delivering to a socket already bound to `userId`: the replay of what was missed, then live
   * messages. Registration happens at once; the returned promise ends with the replay.
   */
  attach(session: Session, userId: UserId, buffered: () => number, resume?: Resume): Promise<void> {
    const state: SocketState = { userId, buffered, replaying: true, held: [], replayed: new Set(), originated: new Set(), posting: Promise.resolve() };
    this.#sockets.set(session, state);
    const acquired = this.#cursors.acquire(userId);
    session.onClose(() => {
      this.#sockets.delete(session);
      this.#cursors.release(userId);
    });
    return acquired.then(() => this.#replay(session, state, resume));
  }

  /** A text this socket sent to `to`: stored, then published. Messages of one socket keep their order. */
  post(session: Session, to: UserId, text: string): void {
    const state = this.#sockets.get(session);
    if (!state) return;
    const from = state.userId;
    // Started now, so the store numbers this socket's messages in the order they came.
    const stored = this.#conversations.post(from, to, text);
    stored.catch(() => undefined);
    state.posting = state.posting.then(async () => {
      let message: StoredMessage;
      try {
        message = await stored;
      } catch (error) {
        if (isUnavailable(error)) return void session.send(errorFrame(503, 'message not stored: storage unavailable, send it again shortly'));
        this.#core.log.error('dm.store_failed', { userId: from, error });
        session.send(errorFrame(500, 'message not stored'));
        return;
      }
      if (state.replaying) state.originated.add(keyOf(message.room, message.seq));
      // The sender has their own message: it is not "missed" on their other devices.
      this.#cursors.mark(from, message.room, message.seq);
      const fields = await this.#conversations.fields(message);
      this.#core.activity.emit({
        type: 'message.created',
        hub: 'dm',
        room: message.room,
        seq: message.seq,
        from: { id: from, username: fields.from },
        to: { id: to, username: fields.to },
        text,
        time: message.ts,
      });
      const event: DmEvent = { room: message.room, seq: message.seq, from, to, origin: session.id, frame: JSON.stringify(fields) };
      this.#core.bus.publish(channel, event);
    });
  }

  close(): void {
    this.#unsubscribe();
  }

  #deliver(event: DmEvent): void {
    const { presence } = this.#core;
    const targets = new Set([...presence.sessionsOf(event.to), ...presence.sessionsOf(event.from)]);
    const frame = new SharedFrame(event.frame);
    for (const session of targets) {
      const state = this.#sockets.get(session);
      if (!state || session.id === event.origin) continue;
      if (state.replaying) {
        if (state.held.length >= maxHeld) session.close(closeReasons.slowConsumer);
        else state.held.push(event);
        continue;
      }
      if (session.send(frame)) this.#cursors.mark(state.userId, event.room, event.seq);
    }
  }

  async #replay(session: Session, state: SocketState, resume: Resume | undefined): Promise<void> {
    const { userId } = state;
    const rooms = new Set(await this.#conversations.roomsOf(userId));
    if (resume) rooms.add(resume.room);
    const sources: Source[] = [];
    for (const room of rooms) {
      const explicit = resume?.room === room;
      const start = explicit ? resume!.after : this.#cursors.value(userId, room);
      if ((await this.#core.store.messages.latestSeq(room)) <= start) continue;
      sources.push({ room, explicit, start, next: start, buffer: [], done: false, checkedGap: false });
    }

    // Oldest first across conversations: a merge of each conversation's pages by time.
    for (;;) {
      for (const source of sources) {
        if (source.done || source.buffer.length > 0) continue;
        source.buffer = await this.#conversations.page(source.room, { afterSeq: source.next, limit: replayPageSize });
        if (source.buffer.length < replayPageSize) source.done = true;
        if (!source.checkedGap) {
          source.checkedGap = true;
          const first = source.buffer[0];
          if (first && first.seq > source.start + 1) {
            const peer = await this.#conversations.usernameOf(peerIn(source.room, userId) ?? userId);
            if (!session.send(gapFrame(peer, source.start, first.seq))) return;
            if (!source.explicit) this.#cursors.raiseTo(userId, source.room, first.seq - 1);
          }
        }
      }
      let oldest: Source | undefined;
      for (const source of sources) {
        const head = source.buffer[0];
        if (!head) continue;
        const best = oldest?.buffer[0];
        if (!best || head.ts < best.ts) oldest = source;
      }
      if (!oldest) break;
      const message = oldest.buffer.shift()!;
      oldest.next = message.seq;
      const key = keyOf(message.room, message.seq);
      // The user's own message may still be on its way through this socket's post queue.
      if (message.from === userId) await state.posting;
      if (state.originated.has(key)) continue;
      if (!oldest.explicit && this.#cursors.seen(userId, message.room, message.seq)) continue;
      await this.#roomToWrite(session, state);
      if (!session.send(await this.#conversations.frame(message))) return;
      state.replayed.add(key);
      this.#cursors.mark(userId, message.room, message.seq);
    }

    for (const event of state.held) {
      const key = keyOf(event.room, event.seq);
      if (state.replayed.has(key) || state.originated.has(key)) continue;
      if (!session.send(event.frame)) return;
      this.#cursors.mark(userId, event.room, event.seq);
    }
    state.replaying = false;
    state.held = [];
    state.replayed.clear();
    state.originated.clear();
  }

  /** A long replay goes at the pace the client reads, instead of tripping the send-queue limit. */
  async #roomToWrite(session: Session, state: SocketState): Promise<void> {
    const limit = this.#core.config.sendQueueBytes / 2;
    while (!session.closed && state.buffered() > limit) await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
