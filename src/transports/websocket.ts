// WebSocket connections shared by the hubs: the upgrade (after the hub's own checks), the Origin
// check, the connections per address, the frame limit, the frames per second of each socket, one
// heartbeat timer for every socket, and the session sink.
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Socket } from 'node:net';
import * as wsModule from 'ws';
import { WebSocket, WebSocketServer } from 'ws';
import { tooManyFromAddress, type AddressLimits } from '../core/address-limits.ts';
import { closeReasons, Session, type CloseReason, type Frame, type SessionSink } from '../core/session.ts';
import { writeBatched } from './batched-writes.ts';
import { allowedOrigin } from './origin.ts';
import { refuseUpgrade } from './refuse-upgrade.ts';

export interface WebSocketOptions {
  hub: string;
  frameLimit: number;
  maxBufferedBytes: number;
  heartbeatSeconds: number;
  origins: readonly string[];
  /** Frames (messages and pings) a client may send per second, in bursts of up to twice that. */
  messagesPerSecond: number;
  /** Live connections per client address, shared with the other hubs and with SSE streams. */
  addresses: AddressLimits;
  /** The hub's error body for a refused upgrade (default: {"error": message}). */
  errorBody?: (status: number, message: string) => string;
}

/** Why a socket that sent frames faster than allowed was closed. */
export function tooManyMessages(perSecond: number): CloseReason {
  return { code: 1008, text: `too many messages: more than ${perSecond} per second` };
}

/**
 * A token bucket: `perSecond` tokens a second, at most `burst` saved up. Each frame takes one; a
 * frame with no token left is over the rate.
 */
export class TokenBucket {
  readonly #perMs: number;
  readonly #burst: number;
  readonly #now: () => number;
  #tokens: number;
  #last: number;

  constructor(perSecond: number, burst: number, now: () => number = Date.now) {
    this.#perMs = perSecond / 1000;
    this.#burst = burst;
    this.#now = now;
    this.#tokens = burst;
    this.#last = now();
  }

  take(): boolean {
    const now = this.#now();
    if (now > this.#last) {
      this.#tokens = Math.min(this.#burst, this.#tokens + (now - this.#last) * this.#perMs);
      this.#last = now;
    }
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}

const defaultErrorBody = (_status: number, message: string) => JSON.stringify({ error: message });

/** Browsers send Origin; a page may connect from its own origin or from a configured one. */
/**
 * What ws would refuse in a handshake, found first so a hub can refuse in its own error shape
 * (ws answers with its own text/html 400).
 */
export function handshakeProblem(request: IncomingMessage): string | undefined {
  if (!/^[+/0-9A-Za-z]{22}==$/.test(request.headers['sec-websocket-key'] ?? '')) return 'missing or invalid Sec-WebSocket-Key header';
  const version = request.headers['sec-websocket-version'];
  if (version !== '13' && version !== '8') return 'missing or invalid Sec-WebSocket-Version header';
  return undefined;
}

export function originAllowed(request: IncomingMessage, origins: readonly string[]): boolean {
  const origin = request.headers.origin;
  if (origin === undefined) return true;
  try {
    if (new URL(origin).host === request.headers.host) return true;
  } catch {
    return false;
  }
  return allowedOrigin(origin, origins) !== undefined;
}

export class WebSocketEndpoint {
  readonly #options: WebSocketOptions;
  readonly #server: WebSocketServer;
  readonly #sockets = new Map<WebSocket, { session: Session; alive: boolean }>();
  #heartbeat: NodeJS.Timeout | undefined;

  constructor(options: WebSocketOptions) {
    this.#options = options;
    // No compression: it costs CPU and memory per socket and opens the door to decompression bombs.
    this.#server = new WebSocketServer({ noServer: true, maxPayload: options.frameLimit, perMessageDeflate: false, clientTracking: false });
  }

  /**
   * Completes the upgrade when the Origin is allowed and the client's address has a connection
   * left, and hands over the socket with its session. Refusals are plain HTTP in the hub's error
   * shape, before any WebSocket exists: 403 for the Origin, 429 for the address.
   */
  accept(request: IncomingMessage, socket: Duplex, head: Buffer, onOpen: (ws: WebSocket, session: Session) => void): void {
    const errorBody = this.#options.errorBody ?? defaultErrorBody;
    if (socket.destroyed) return;
    if (!originAllowed(request, this.#options.origins)) {
      refuseUpgrade(socket, 403, errorBody(403, 'Origin not allowed'));
      return;
    }
    const release = this.#options.addresses.acquire(request.socket.remoteAddress);
    if (!release) {
      refuseUpgrade(socket, 429, errorBody(429, tooManyFromAddress));
      return;
    }
    // The slot is the TCP connection's: given back when it closes, however the upgrade went.
    socket.once('close', release);
    this.#server.handleUpgrade(request, socket, head, (ws) => onOpen(ws, this.#track(ws, request)));
  }

  close(): void {
    if (this.#heartbeat) clearInterval(this.#heartbeat);
    this.#heartbeat = undefined;
    this.#server.close();
  }

  #track(ws: WebSocket, request: IncomingMessage): Session {
    const sink: SessionSink = {
      write: (frame) => send(ws, frame),
      bufferedBytes: () => ws.bufferedAmount,
      close: (reason) => ws.close(reason.code, reason.text),
    };
    const session = new Session({
      hub: this.#options.hub,
      transport: 'ws',
      sink,
      maxBufferedBytes: this.#options.maxBufferedBytes,
      remoteAddress: request.socket.remoteAddress,
    });
    explainFrameLimit(ws);
    limitRate(ws, session, this.#options.messagesPerSecond);
    const entry = { session, alive: true };
    this.#sockets.set(ws, entry);
    this.#heartbeat ??= setInterval(() => this.#beat(), this.#options.heartbeatSeconds * 1000).unref();
    ws.on('pong', () => (entry.alive = true));
    // ws has queued its close frame (e.g. 1009 for a frame over the limit) before it reports the
    // error; cutting the socket at once would reset it under a client still sending, which then
    // never reads the reason. A second lets the close frame through.
    ws.on('error', () => setTimeout(() => ws.terminate(), 1000).unref());
    ws.on('close', (code) => {
      this.#sockets.delete(ws);
      session.close(code === 1009 ? closeReasons.frameTooLarge : closeReasons.clientGone);
    });
    return session;
  }

  /** Sockets that did not answer the previous ping are gone (a cable pulled, a laptop closed). */
  #beat(): void {
    for (const [ws, entry] of this.#sockets) {
      if (!entry.alive) {
        entry.session.close(closeReasons.idle);
        ws.terminate();
        continue;
      }
      entry.alive = false;
      ws.ping();
    }
  }
}

/**
 * Each socket may send `perSecond` frames a second, in bursts of twice that. The first frame over
 * the rate closes the socket with 1008 and the reason; it and every frame after it are dropped
 * before any hub sees them. ws hands frames to listeners with emit(), so the check wraps this
 * socket's emit and runs before the hub's 'message' listeners. Pings count too (ws answers them
 * itself), so a ping flood is closed as well.
 */
function limitRate(ws: WebSocket, session: Session, perSecond: number): void {
  const bucket = new TokenBucket(perSecond, 2 * perSecond);
  let over = false;
  const emit = ws.emit;
  ws.emit = function (this: WebSocket, event: string | symbol, ...args: unknown[]): boolean {
    if (event === 'message' || event === 'ping') {
      if (over) return false;
      if (!bucket.take()) {
        over = true;
        session.close(tooManyMessages(perSecond));
        return false;
      }
    }
    return emit.call(this, event, ...args);
  } as WebSocket['emit'];
}

/**
 * ws closes the socket of a frame over the limit with 1009 and no reason text. Its receiver calls
 * the socket's own close(), so wrapping that one method gives every hub's clients the reason.
 */
function explainFrameLimit(ws: WebSocket): void {
  const close = ws.close.bind(ws);
  ws.close = (code?: number, reason?: string | Buffer) =>
    close(code, reason ?? (code === closeReasons.frameTooLarge.code ? closeReasons.frameTooLarge.text : undefined));
}

/**
 * A shared frame's WebSocket bytes (header and payload) are built once and written to each socket
 * as they are. ws keeps its socket private; writing to it directly is safe here because compression
 * is off, so ws writes its own frames synchronously too and the order on the wire holds.
 */
function send(ws: WebSocket, frame: Frame): void {
  const socket = (ws as unknown as { _socket?: Socket })._socket;
  if (typeof frame === 'string' || !socket || ws.readyState !== WebSocket.OPEN) {
    if (ws.readyState === WebSocket.OPEN) ws.send(typeof frame === 'string' ? frame : frame.utf8, { binary: false });
    return;
  }
  writeBatched(socket, frame.wire('ws', textFrameBytes));
}

// ws exports its framer, Sender, by name (and as WebSocket.Sender in its CommonJS entry only);
// @types/ws doesn't declare it.
const { Sender } = wsModule as unknown as { Sender: { frame(data: Buffer, options: Record<string, unknown>): Buffer[] } };

function textFrameBytes(utf8: Buffer): Buffer {
  return Buffer.concat(Sender.frame(utf8, { fin: true, opcode: 0x1, mask: false, readOnly: true, rsv1: false }));
}
