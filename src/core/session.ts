// One live connection (a WebSocket or an SSE stream) of any hub. Transports give it a sink; hubs send
// through it. The sink's own buffer is the send queue: once it holds more than `maxBufferedBytes`, the
// client is not reading, and it is dropped with a reason instead of slowing anyone or growing memory.
import { randomUUID } from 'node:crypto';
import type { UserId } from '../store/types.ts';
import { newHubCounts, type HubCounts } from './counters.ts';

export interface CloseReason {
  /** WebSocket close code; SSE streams just end. */
  code: number;
  text: string;
}

export const closeReasons = {
  // 1012 "service restart": the client should reconnect (after a short, randomized pause), to this
  // node once it is back or to another one behind the same address. SSE streams get `retry:` instead.
  shutdown: { code: 1012, text: 'server restarting, reconnect shortly' },
  tryAgainLater: { code: 1013, text: 'storage unavailable, reconnect shortly' },
  clientGone: { code: 1000, text: 'client closed' },
  slowConsumer: { code: 1008, text: 'send queue full: client is not reading' },
  tooManyConnections: { code: 1008, text: 'too many connections for this user' },
  tokenExpired: { code: 1008, text: 'token expired' },
  userRemoved: { code: 1008, text: 'user removed' },
  protocolError: { code: 1002, text: 'protocol error' },
  frameTooLarge: { code: 1009, text: 'frame too large' },
  idle: { code: 1001, text: 'no answer to ping' },
} as const satisfies Record<string, CloseReason>;

const reasonNames = new Map<CloseReason, string>(Object.entries(closeReasons).map(([name, reason]) => [reason, name]));

/** The name of a reason in closeReasons ('slowConsumer'), for logs and metrics. */
export function closeReasonName(reason: CloseReason): string {
  return reasonNames.get(reason) ?? `code${reason.code}`;
}

export type Transport = 'ws' | 'sse';

/**
 * A frame sent to many sessions (a broadcast): its text is UTF-8 encoded once, and each transport
 * builds its wire bytes once, however many recipients (reference/performance.md: 3-5x deliveries
 * per CPU second against encoding per recipient).
 */
export class SharedFrame {
  readonly text: string;
  #utf8: Buffer | undefined;
  readonly #wire = new Map<string, Buffer>();
  #sent = false;

  constructor(text: string) {
    this.text = text;
  }

  get utf8(): Buffer {
    return (this.#utf8 ??= Buffer.from(this.text));
  }

  /** True the first time only: a broadcast counts as one message out, however many it reaches. */
  firstSend(): boolean {
    if (this.#sent) return false;
    return (this.#sent = true);
  }

  /** The bytes a transport writes, built by `build` the first time that transport asks. */
  wire(transport: string, build: (utf8: Buffer) => Buffer): Buffer {
    let bytes = this.#wire.get(transport);
    if (!bytes) this.#wire.set(transport, (bytes = build(this.utf8)));
    return bytes;
  }
}

export type Frame = string | SharedFrame;

export interface SessionSink {
  write(frame: Frame): void;
  bufferedBytes(): number;
  close(reason: CloseReason): void;
}

export interface SessionInit {
  hub: string;
  transport: Transport;
  sink: SessionSink;
  maxBufferedBytes: number;
  remoteAddress?: string;
}

export class Session {
  readonly id = randomUUID();
  readonly hub: string;
  readonly transport: Transport;
  readonly remoteAddress: string | undefined;
  readonly openedAt = Date.now();
  userId: UserId | undefined;
  closeReason: CloseReason | undefined;
  /** Where sends are counted: the hub's counts once the presence registry tracks the session. */
  traffic: HubCounts = uncounted;
  readonly #sink: SessionSink;
  readonly #maxBufferedBytes: number;
  readonly #closeListeners: ((reason: CloseReason) => void)[] = [];

  constructor(init: SessionInit) {
    this.hub = init.hub;
    this.transport = init.transport;
    this.remoteAddress = init.remoteAddress;
    this.#sink = init.sink;
    this.#maxBufferedBytes = init.maxBufferedBytes;
  }

  get closed(): boolean {
    return this.closeReason !== undefined;
  }

  /** Returns false when the frame was not sent (session closed, or dropped for not reading). */
  send(frame: Frame): boolean {
    const traffic = this.traffic;
    if (this.closed) {
      traffic.dropped++;
      return false;
    }
    if (this.#sink.bufferedBytes() > this.#maxBufferedBytes) {
      traffic.dropped++;
      traffic.slowConsumers++;
      this.close(closeReasons.slowConsumer);
      return false;
    }
    this.#sink.write(frame);
    traffic.deliveries[this.transport]++;
    if (typeof frame === 'string' || frame.firstSend()) traffic.messagesOut++;
    return true;
  }

  /** Closes once; later calls are ignored. Transports call it with clientGone when the peer left. */
  close(reason: CloseReason): void {
    if (this.closed) return;
    this.closeReason = reason;
    if (reason !== closeReasons.clientGone) this.#sink.close(reason);
    for (const listener of this.#closeListeners.splice(0)) listener(reason);
  }

  onClose(listener: (reason: CloseReason) => void): void {
    if (this.closeReason) listener(this.closeReason);
    else this.#closeListeners.push(listener);
  }

  /** Closes the session ("token expired") when the token it was opened with expires (unix seconds). */
  expireAt(expiresAt: number): void {
    let timer: NodeJS.Timeout | undefined;
    // setTimeout holds at most 2^31-1 ms (24.8 days); user tokens may live 30 days: re-armed.
    const arm = (): void => {
      const left = expiresAt * 1000 - Date.now();
      if (left <= 0) return this.close(closeReasons.tokenExpired);
      timer = setTimeout(arm, Math.min(left, maxTimerMs)).unref();
    };
    arm();
    this.onClose(() => clearTimeout(timer));
  }
}

const maxTimerMs = 2 ** 31 - 1;

/** Counts of sessions nobody tracks (unit tests); never read. */
const uncounted = newHubCounts();
