// One line per event: JSON when stderr is not a terminal (for log collectors), short text when it is.
// Fields whose names look secret are never written, whatever the caller passes.

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFormat = 'auto' | 'json' | 'text';
export type LogFields = Record<string, unknown>;

const levelRank: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
const secretField = /pass(word)?|secret|token|authorization|cookie|key$/i;

/** Whether a field name looks secret: its value is never written anywhere. */
export function isSecretField(name: string): boolean {
  return secretField.test(name);
}

export interface Logger {
  debug(event: string, fields?: LogFields): void;
  info(event: string, fields?: LogFields): void;
  warn(event: string, fields?: LogFields): void;
  error(event: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
}

export interface LoggerOptions {
  level?: LogLevel;
  format?: LogFormat;
  write?: (line: string) => void;
}

export function createLogger(options: LoggerOptions = {}, bound: LogFields = {}): Logger {
  const minRank = levelRank[options.level ?? 'info'];
  const write = options.write ?? ((line: string) => process.stderr.write(line));
  const json = (options.format ?? 'auto') === 'auto' ? !process.stderr.isTTY : options.format === 'json';

  const emit = (level: LogLevel, event: string, fields?: LogFields) => {
    if (levelRank[level] < minRank) return;
    const record = redact({ ...bound, ...fields });
    write(json ? jsonLine(level, event, record) : textLine(level, event, record));
  };

  return {
    debug: (event, fields) => emit('debug', event, fields),
    info: (event, fields) => emit('info', event, fields),
    warn: (event, fields) => emit('warn', event, fields),
    error: (event, fields) => emit('error', event, fields),
    child: (fields) => createLogger(options, { ...bound, ...fields }),
  };
}

/** A URL (e.g. redis://user:password@host) may carry a password. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//***@');
}

function redact(fields: LogFields): LogFields {
  const out: LogFields = {};
  for (const [name, value] of Object.entries(fields)) {
    if (value === undefined) continue;
    out[name] = isSecretField(name) ? '[redacted]' : value instanceof Error ? value.message : value;
  }
  return out;
}

function jsonLine(level: LogLevel, event: string, fields: LogFields): string {
  return JSON.stringify({ time: new Date().toISOString(), level, event, ...fields }) + '\n';
}

function textLine(level: LogLevel, event: string, fields: LogFields): string {
  const time = new Date().toISOString().slice(11, 23);
  const rest = Object.entries(fields)
    .map(([name, value]) => `${name}=${typeof value === 'string' ? value : JSON.stringify(value)}`)
    .join(' ');
  return `${time} ${level.toUpperCase().padEnd(5)} ${event}${rest ? ' ' + rest : ''}\n`;
}
