// MessageStore over Redis. Per room (one hash tag, so one slot):
//
//   {room:<id>}:seq    INCR counter; the seq is taken inside the append script, so it is gap-free
//                      and in commit order across every node, and survives delete and trim
//   {room:<id>}:msgs   sorted set scored by seq; the member is the message JSON, which carries its
//                      seq, so two identical texts can never collapse into one member (timestamps
//                      as scores, as in the Redis chat demo, collide)
//   {room:<id>}:cids   sorted set cid → seq of the newest CID_WINDOW cids, for retries
//
// Every read is one command (page is one ZRANGE ... BYSCORE [REV] LIMIT).

import { StoreError, type MessageStore, type NewMessage, type PageOptions, type StoredMessage } from '../types.ts';
import type { RedisConnection } from './connection.ts';
import { scanKeys } from './scan.ts';
import { APPEND, IMPORT_MESSAGES, RAISE_COUNTER } from './scripts.ts';
import type { StatsCache } from './stats.ts';

/** Same window as the file store: a retry is recognised among the room's last 1,024 cids. */
export const CID_WINDOW = 1024;
const DEFAULT_LIMIT = 50;
const MAX_LIMIT = 500;

/** What the msgs member holds; the room is the key's. */
interface Body {
  seq?: number;
  ts: number;
  from: number;
  cid?: string;
  text?: string;
  data?: unknown;
}

function toMessage(room: string, json: string): StoredMessage {
  const b = JSON.parse(json) as Body;
  const m: StoredMessage = { room, seq: b.seq as number, ts: b.ts, from: b.from };
  if (b.text !== undefined) m.text = b.text;
  if (b.data !== undefined) m.data = b.data;
  if (b.cid !== undefined) m.cid = b.cid;
  return m;
}

/** The msgs member of a message: seq first, then the fields in the order APPEND writes them. */
function memberOf(m: StoredMessage): string {
  const body: Body = { seq: m.seq, ts: m.ts, from: m.from };
  if (m.cid !== undefined) body.cid = m.cid;
  if (m.text !== undefined) body.text = m.text;
  if (m.data !== undefined) body.data = m.data;
  try {
    return JSON.stringify(body);
  } catch (err) {
    throw new StoreError('EINVAL', `message cannot be serialised: ${(err as Error).message}`);
  }
}

function pageLimit(limit: number | undefined): number {
  const n = limit === undefined || !Number.isFinite(limit) ? DEFAULT_LIMIT : Math.floor(limit);
  return Math.min(Math.max(n, 1), MAX_LIMIT);
}

export class RedisMessageStore implements MessageStore {
  #c: RedisConnection;
  #stats: StatsCache;

  constructor(conn: RedisConnection, stats: StatsCache) {
    this.#c = conn;
    this.#stats = stats;
  }

  async append(room: string, msg: NewMessage): Promise<StoredMessage> {
    this.#c.live();
    const body: Body = { ts: Date.now(), from: msg.from };
    if (msg.cid !== undefined) body.cid = msg.cid;
    if (msg.text !== undefined) body.text = msg.text;
    if (msg.data !== undefined) body.data = msg.data;
    let json: string;
    try {
      json = JSON.stringify(body);
    } catch (err) {
      throw new StoreError('EINVAL', `message cannot be serialised: ${(err as Error).message}`);
    }
    const k = this.#c.keys.history(room);
    const args: string[] = [json, String(CID_WINDOW)];
    if (msg.cid !== undefined) args.push(msg.cid);
    const reply = await this.#c.script(APPEND, [k.seq, k.msgs, k.cids], args);
    // A string is the original of a cid retry; a number is the seq of a new message.
    if (typeof reply === 'string') return toMessage(room, reply);
    this.#stats.messagesChanged(1);
    const stored: StoredMessage = { room, seq: Number(reply), ts: body.ts, from: msg.from };
    if (msg.text !== undefined) stored.text = msg.text;
    if (msg.data !== undefined) stored.data = msg.data;
    if (msg.cid !== undefined) stored.cid = msg.cid;
    return stored;
  }

  async get(room: string, seq: number): Promise<StoredMessage | undefined> {
    this.#c.live();
    if (!Number.isFinite(seq)) return undefined;
    const [json] = (await this.#c.call('ZRANGE', this.#c.keys.history(room).msgs, seq, seq, 'BYSCORE')) as string[];
    return json === undefined ? undefined : toMessage(room, json);
  }

  async page(room: string, opts: PageOptions = {}): Promise<StoredMessage[]> {
    this.#c.live();
    const key = this.#c.keys.history(room).msgs;
    const limit = pageLimit(opts.limit);
    const below = opts.beforeSeq !== undefined ? `(${opts.beforeSeq}` : '+inf';
    if (opts.afterSeq !== undefined) {
      const up = (await this.#c.call('ZRANGE', key, `(${opts.afterSeq}`, below, 'BYSCORE', 'LIMIT', 0, limit)) as string[];
      return up.map((j) => toMessage(room, j));
    }
    // Newest first from Redis, so the page is the `limit` closest below; returned ascending.
    const down = (await this.#c.call('ZRANGE', key, below, '-inf', 'BYSCORE', 'REV', 'LIMIT', 0, limit)) as string[];
    return down.reverse().map((j) => toMessage(room, j));
  }

  async latestSeq(room: string): Promise<number> {
    this.#c.live();
    return Number((await this.#c.call('GET', this.#c.keys.history(room).seq)) ?? 0);
  }

  async count(room: string): Promise<number> {
    this.#c.live();
    return Number(await this.#c.call('ZCARD', this.#c.keys.history(room).msgs));
  }

  async delete(room: string, seq: number): Promise<boolean> {
    this.#c.live();
    if (!Number.isFinite(seq)) return false;
    const n = Number(await this.#c.call('ZREMRANGEBYSCORE', this.#c.keys.history(room).msgs, seq, seq));
    this.#stats.messagesChanged(-n);
    return n > 0;
  }

  // ---- transfer (flashhub migrate)

  /** Every room that has handed out a seq (internal rooms too), a page per SCAN step. */
  async *histories(): AsyncIterable<{ room: string; lastSeq: number; messages: number }[]> {
    const k = this.#c.keys;
    for await (const keys of scanKeys(this.#c, k.historySeqPattern)) {
      const rooms = keys.map((key) => k.roomOfSeqKey(key));
      const [seqs, counts] = await Promise.all([Promise.all(rooms.map((r) => this.latestSeq(r))), Promise.all(rooms.map((r) => this.count(r)))]);
      yield rooms.map((room, i) => ({ room, lastSeq: seqs[i] as number, messages: counts[i] as number }));
    }
  }

  /**
   * Stores messages made elsewhere with their own seq, ts and cid, in one script. Seqs must ascend
   * and lie above the room's counter ('EINVAL', nothing written, otherwise), as appends' do.
   */
  async importMessages(room: string, msgs: StoredMessage[]): Promise<void> {
    this.#c.live();
    if (msgs.length === 0) return;
    const args: string[] = [String(CID_WINDOW)];
    let previous = 0;
    for (const m of msgs) {
      if (!Number.isSafeInteger(m.seq) || m.seq <= previous) throw new StoreError('EINVAL', `room ${room}: seqs must ascend (${m.seq} after ${previous})`);
      previous = m.seq;
      args.push(String(m.seq), memberOf(m), m.cid === undefined ? '' : `=${m.cid}`);
    }
    const k = this.#c.keys.history(room);
    const stored = Number(await this.#c.script(IMPORT_MESSAGES, [k.seq, k.msgs, k.cids], args));
    if (stored < 0) throw new StoreError('EINVAL', `room ${room}: seq ${msgs[0]?.seq} is not above the seqs it has handed out`);
    this.#stats.messagesChanged(stored);
  }

  /** Makes the room hand out seqs above lastSeq from now on. */
  async raiseSeq(room: string, lastSeq: number): Promise<void> {
    this.#c.live();
    await this.#c.script(RAISE_COUNTER, [this.#c.keys.history(room).seq], [String(lastSeq)]);
  }

  async trim(room: string, keepLast: number): Promise<number> {
    this.#c.live();
    if (!Number.isInteger(keepLast) || keepLast < 0) throw new StoreError('EINVAL', `keepLast must be a non-negative integer, got ${keepLast}`);
    // Ranks count from the oldest; everything up to the (keepLast+1)-th newest goes.
    const n = Number(await this.#c.call('ZREMRANGEBYRANK', this.#c.keys.history(room).msgs, 0, -keepLast - 1));
    this.#stats.messagesChanged(-n);
    return n;
  }
}
