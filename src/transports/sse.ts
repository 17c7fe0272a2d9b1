// Server-sent events written straight to the Node response (reference/performance.md: Hono's
// streamSSE helper cost 7x the throughput and 3x the memory per connection). One timer sends the
// keep-alive comment to every stream, instead of one timer per stream.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { HttpBindings } from '@hono/node-server';
import type { Core } from '../core/core.ts';
import { addressLimitsOf } from '../core/address-limits.ts';
import { ConnectionLimitError } from '../core/presence.ts';
import { closeReasons, Session, type SessionSink } from '../core/session.ts';
import type { UserId } from '../store/types.ts';
import { writeBatched } from './batched-writes.ts';
import { corsHeaders } from './origin.ts';

export const keepAliveIntervalMs = 15_000;
const keepAliveFrame = ':\n\n';

/**
 * At shutdown every stream is told when to reconnect, then ended. The delay is spread over 1-3 s per
 * stream, so the clients of a restarted server don't all come back in the same instant; it is close to
 * browsers' own default (about 3 s), which matters because an EventSource keeps the value for its
 * later reconnects too.
 */
export const shutdownRetryMs = { min: 1000, max: 3000 } as const;

function shutdownRetryFrame(): string {
  const ms = shutdownRetryMs.min + Math.floor(Math.random() * (shutdownRetryMs.max - shutdownRetryMs.min + 1));
  return `retry: ${ms}\n\n`;
}

const liveStreams = new Set<Session>();
let keepAliveTimer: NodeJS.Timeout | undefined;

function keepAliveAll(): void {
  for (const session of liveStreams) session.send(keepAliveFrame);
}

function track(session: Session): void {
  liveStreams.add(session);
  keepAliveTimer ??= setInterval(keepAliveAll, keepAliveIntervalMs).unref();
  session.onClose(() => {
    liveStreams.delete(session);
    if (liveStreams.size === 0 && keepAliveTimer) {
      clearInterval(keepAliveTimer);
      keepAliveTimer = undefined;
    }
  });
}

export interface SseOptions {
  hub: string;
  maxBufferedBytes: number;
  headers?: Record<string, string>;
}

/** Sends the stream's headers and returns its session; the caller returns RESPONSE_ALREADY_SENT to Hono. */
export function openSseStream(incoming: IncomingMessage, outgoing: ServerResponse, options: SseOptions): Session {
  const sink: SessionSink = {
    write: (frame) => writeBatched(outgoing, typeof frame === 'string' ? frame : frame.utf8),
    bufferedBytes: () => outgoing.writableLength,
    close: (reason) => (reason === closeReasons.shutdown ? outgoing.end(shutdownRetryFrame()) : outgoing.end()),
  };
  const session = new Session({
    hub: options.hub,
    transport: 'sse',
    sink,
    maxBufferedBytes: options.maxBufferedBytes,
    remoteAddress: incoming.socket.remoteAddress,
  });
  incoming.socket.setNoDelay(true);
  // A stream lives as long as the client keeps it; the server's request timeouts must not end it.
  incoming.socket.setTimeout(0);
  outgoing.writeHead(200, {
    'Content-Type': 'text/event-stream; charset=utf-8',
    'Cache-Control': 'no-cache, no-transform',
    Connection: 'keep-alive',
    'X-Accel-Buffering': 'no',
    ...options.headers,
  });
  outgoing.flushHeaders();
  outgoing.on('close', () => session.close(closeReasons.clientGone));
  track(session);
  return session;
}

/**
 * One SSE event. Ids and event names come from the server, but are checked anyway: a CR or LF in them
 * would let data inject fields. Data lines are split, so multi-line data stays one event.
 */
export function sseFrame(data: string, id?: string, event?: string): string {
  if ((id !== undefined && /[\r\n]/.test(id)) || (event !== undefined && /[\r\n]/.test(event))) {
    throw new Error('SSE id and event must not contain CR or LF');
  }
  const head = (id === undefined ? '' : `id: ${id}\n`) + (event === undefined ? '' : `event: ${event}\n`);
  return `${head}data: ${data.split(/\r\n|\r|\n/).join('\ndata: ')}\n\n`;
}

/** Why openUserStream refused: the user's connections or the client address's are used up. */
export type StreamRefusal = 'user' | 'address';

/**
 * Opens a user's stream on a hub: refuses when the client's address ('address') or the user
 * ('user') already holds the most connections allowed, otherwise sends the headers (with CORS for
 * allowed origins) and registers the stream with the core presence as the user's. The hub answers a
 * refusal with its own 429.
 */
export async function openUserStream(core: Core, env: HttpBindings, request: { hub: string; userId: UserId; origin: string | undefined }): Promise<Session | StreamRefusal> {
  const release = addressLimitsOf(core).acquire(env.incoming.socket.remoteAddress);
  if (!release) return 'address';
  let hasRoom = false;
  try {
    hasRoom = await core.presence.hasRoomFor(request.userId);
  } finally {
    if (!hasRoom) release();
  }
  if (!hasRoom) return 'user';
  const session = openSseStream(env.incoming, env.outgoing, {
    hub: request.hub,
    maxBufferedBytes: core.config.sendQueueBytes,
    headers: corsHeaders(request.origin, core.config.origins),
  });
  session.onClose(release);
  core.presence.attach(session);
  try {
    core.presence.bind(session, request.userId);
  } catch (error) {
    // Another connection of the user got in between the check above and now: the stream just ends.
    if (!(error instanceof ConnectionLimitError)) throw error;
    session.close(closeReasons.tooManyConnections);
    return session;
  }
  // A client that left while the checks ran would never fire 'close' again: end its stream now.
  if (env.outgoing.destroyed || env.incoming.socket.destroyed) session.close(closeReasons.clientGone);
  return session;
}
