// WebSocket connections shared by the hubs: the upgrade (after the hub's own checks), the Origin
// check, the frame limit, one heartbeat timer for every socket, and the session sink.
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Socket } from 'node:net';
import * as wsModule from 'ws';
import { WebSocket, WebSocketServer } from 'ws';
import { closeReasons, Session, type Frame, type SessionSink } from '../core/session.ts';
import { writeBatched } from './batched-writes.ts';
import { allowedOrigin } from './origin.ts';
import { refuseUpgrade } from './refuse-upgrade.ts';

export interface WebSocketOptions {
  hub: string;
  frameLimit: number;
  maxBufferedBytes: number;
  heartbeatSeconds: number;
  origins: readonly string[];
}

/** Browsers send Origin; a page may connect from its own origin or from a configured one. */
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
   * Completes the upgrade when the Origin is allowed, and hands over the socket with its session.
   * A refused Origin gets a plain 403 before any WebSocket exists.
   */
  accept(request: IncomingMessage, socket: Duplex, head: Buffer, onOpen: (ws: WebSocket, session: Session) => void): void {
    if (!originAllowed(request, this.#options.origins)) {
      refuseUpgrade(socket, 403, JSON.stringify({ error: 'Origin not allowed' }));
      return;
    }
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
    const entry = { session, alive: true };
    this.#sockets.set(ws, entry);
    this.#heartbeat ??= setInterval(() => this.#beat(), this.#options.heartbeatSeconds * 1000).unref();
    ws.on('pong', () => (entry.alive = true));
    ws.on('error', () => ws.terminate());
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
