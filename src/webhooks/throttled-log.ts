// A warning that may happen thousands of times a second (every event dropped while a receiver is
// down) is written at most once per interval, with how many times it happened since the last line.
import type { LogFields, Logger } from '../log.ts';

export class ThrottledWarning {
  readonly #log: Logger;
  readonly #event: string;
  readonly #intervalMs: number;
  #lastAt = -Infinity;
  #unwritten = 0;
  #lastFields: LogFields = {};

  constructor(log: Logger, event: string, intervalMs = 10_000) {
    this.#log = log;
    this.#event = event;
    this.#intervalMs = intervalMs;
  }

  note(fields: LogFields = {}): void {
    this.#unwritten++;
    this.#lastFields = fields;
    const now = Date.now();
    if (now - this.#lastAt < this.#intervalMs) return;
    this.#lastAt = now;
    this.#write();
  }

  /** Writes what was counted since the last line, if anything (at shutdown). */
  flush(): void {
    if (this.#unwritten > 0) this.#write();
  }

  #write(): void {
    this.#log.warn(this.#event, { ...this.#lastFields, count: this.#unwritten });
    this.#unwritten = 0;
  }
}
