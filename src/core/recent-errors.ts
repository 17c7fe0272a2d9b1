// The latest warnings and errors, kept for the admin view; a logger wrapper records them on the way.
import { isSecretField, type LogFields, type Logger } from '../log.ts';

export interface RecentError {
  time: string;
  level: 'warn' | 'error';
  event: string;
  fields: LogFields;
}

export class RecentErrors {
  readonly #keep: number;
  readonly #items: RecentError[] = [];

  constructor(keep = 50) {
    this.#keep = keep;
  }

  list(): RecentError[] {
    return [...this.#items].reverse();
  }

  /** A logger that writes through `log` and remembers its warnings and errors. */
  wrap(log: Logger): Logger {
    const record = (level: 'warn' | 'error', event: string, fields: LogFields = {}) => {
      this.#items.push({ time: new Date().toISOString(), level, event, fields: safe(fields) });
      if (this.#items.length > this.#keep) this.#items.shift();
    };
    return {
      debug: (event, fields) => log.debug(event, fields),
      info: (event, fields) => log.info(event, fields),
      warn: (event, fields) => {
        record('warn', event, fields);
        log.warn(event, fields);
      },
      error: (event, fields) => {
        record('error', event, fields);
        log.error(event, fields);
      },
      child: (fields) => this.wrap(log.child(fields)),
    };
  }
}

/** Only plain values, and never anything that looks secret (the log redacts; so must this). */
function safe(fields: LogFields): LogFields {
  const out: LogFields = {};
  for (const [name, value] of Object.entries(fields)) {
    if (isSecretField(name)) continue;
    out[name] = value instanceof Error ? value.message : typeof value === 'object' && value !== null ? JSON.stringify(value).slice(0, 500) : value;
  }
  return out;
}
