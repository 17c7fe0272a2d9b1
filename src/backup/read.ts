// Reads a backup file (format.ts) as it streams in: each line is parsed, checked (validate.ts) and
// checked against the lines before it (kinds in order, each message in the history it follows,
// seqs ascending, counts as the end record says). Whatever is wrong is a BackupError naming the
// line. Nothing is held but the line being read, so a file of any size reads in the same memory.

import type { Inventory } from '../store/transfer.ts';
import { COUNTED_AS, KIND_ORDER, emptyInventory, type BackupHeader, type BackupRecord } from './format.ts';
import { RecordError, checkHeader, checkRecord } from './validate.ts';

/** A line longer than this is not one flashhub wrote (a message or a group is far smaller). */
export const MAX_LINE_BYTES = 64 * 1024 * 1024;

export class BackupError extends Error {
  /** 1-based; 0 when the problem is the file as a whole. */
  readonly line: number;

  constructor(line: number, message: string) {
    super(line > 0 ? `line ${line}: ${message}` : message);
    this.name = 'BackupError';
    this.line = line;
  }
}

export interface NumberedLine {
  number: number;
  text: string;
}

export interface OpenedBackup {
  header: BackupHeader;
  /** The records after the header, each checked; ends after the end record, or throws. */
  records: AsyncIterable<BackupRecord>;
}

/** Reads and checks the header; the records follow as they are pulled. */
export async function openBackup(input: AsyncIterable<Buffer | string>): Promise<OpenedBackup> {
  const lines = numberedLines(input)[Symbol.asyncIterator]();
  const first = await lines.next();
  if (first.done) throw new BackupError(0, 'the input is empty: no backup in it');
  const header = atLine(first.value.number, () => checkHeader(parse(first.value.text)));
  return { header, records: checkedRecords(lines) };
}

async function* checkedRecords(lines: AsyncIterator<NumberedLine>): AsyncGenerator<BackupRecord> {
  const order = new OrderCheck();
  let last = 1;
  for (let next = await lines.next(); !next.done; next = await lines.next()) {
    const { number, text } = next.value;
    last = number;
    const record = atLine(number, () => {
      const checked = checkRecord(parse(text));
      order.add(checked);
      return checked;
    });
    yield record;
  }
  if (!order.ended) throw new BackupError(0, `the backup ends after line ${last} without its end record: it is truncated`);
}

/** Everything a line must agree with in the lines before it. */
class OrderCheck {
  ended = false;
  #rank = 0;
  #kind = 'user';
  #room: string | undefined;
  #seq = 0;
  readonly #counts: Inventory = emptyInventory();

  add(line: BackupRecord): void {
    if (this.ended) throw new RecordError('a line after the end record');
    const rank = KIND_ORDER[line.kind];
    if (rank < this.#rank) throw new RecordError(`a ${line.kind} after a ${this.#kind}: the kinds are out of order`);
    this.#rank = rank;
    this.#kind = line.kind;
    if (line.kind === 'history') this.#openHistory(line.record.room);
    if (line.kind === 'message') this.#checkMessage(line.record.room, line.record.seq);
    if (line.kind === 'end') this.#end(line.record);
    const counted = COUNTED_AS[line.kind];
    if (counted !== undefined) this.#counts[counted]++;
  }

  #openHistory(room: string): void {
    this.#room = room;
    this.#seq = 0;
  }

  #checkMessage(room: string, seq: number): void {
    if (this.#room === undefined) throw new RecordError('a message before any history line');
    if (room !== this.#room) throw new RecordError(`a message of room ${JSON.stringify(room)} in the history of ${JSON.stringify(this.#room)}`);
    if (seq <= this.#seq) throw new RecordError(`seq ${seq} is not above the seq before it (${this.#seq})`);
    this.#seq = seq;
  }

  #end(counts: Inventory): void {
    const wrong = (Object.keys(counts) as (keyof Inventory)[]).filter((kind) => counts[kind] !== this.#counts[kind]);
    if (wrong.length > 0) {
      const detail = wrong.map((kind) => `${counts[kind]} ${kind}, the file holds ${this.#counts[kind]}`).join('; ');
      throw new RecordError(`the end record does not match the lines before it (it counts ${detail}): lines are missing or were added`);
    }
    this.ended = true;
  }
}

function parse(text: string): unknown {
  if (text.trim() === '') throw new RecordError('an empty line');
  try {
    return JSON.parse(text);
  } catch {
    throw new RecordError('not valid JSON (is the file cut off or edited?)');
  }
}

function atLine<T>(line: number, check: () => T): T {
  try {
    return check();
  } catch (error) {
    if (error instanceof RecordError) throw new BackupError(line, error.message);
    throw error;
  }
}

/** The lines of a byte stream (\n or \r\n), numbered from 1; a last line without \n counts too. */
export async function* numberedLines(input: AsyncIterable<Buffer | string> | Iterable<Buffer | string>, maxBytes = MAX_LINE_BYTES): AsyncGenerator<NumberedLine> {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  const decode = (bytes: Buffer, number: number): string => {
    try {
      return decoder.decode(bytes).replace(/\r$/, '');
    } catch {
      throw new BackupError(number, 'not UTF-8 text');
    }
  };
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let number = 0;
  for await (const piece of input) {
    const chunk = typeof piece === 'string' ? Buffer.from(piece) : piece;
    let start = 0;
    for (let end = chunk.indexOf(0x0a); end >= 0; end = chunk.indexOf(0x0a, start)) {
      number++;
      const bytes = pending.length === 0 ? chunk.subarray(start, end) : Buffer.concat([...pending, chunk.subarray(start, end)]);
      pending = [];
      pendingBytes = 0;
      if (bytes.length > maxBytes) throw new BackupError(number, tooLong(maxBytes));
      yield { number, text: decode(bytes, number) };
      start = end + 1;
    }
    if (start < chunk.length) {
      pending.push(chunk.subarray(start));
      pendingBytes += chunk.length - start;
      if (pendingBytes > maxBytes) throw new BackupError(number + 1, tooLong(maxBytes));
    }
  }
  if (pendingBytes > 0) yield { number: number + 1, text: decode(Buffer.concat(pending), number + 1) };
}

const tooLong = (maxBytes: number): string => `longer than ${maxBytes >= 1 << 20 ? `${maxBytes >> 20} MiB` : `${maxBytes} bytes`}`;
