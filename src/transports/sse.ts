// Server-sent events written straight to the Node response (reference/performance.md: Hono's
// streamSSE helper cost 7x the throughput and 3x the memory per connection). One timer sends the
// keep-alive comment to every stream, instead of one timer per stream.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { HttpBindings } from '@hono/node-server';
import type { Core } from '../core/core.ts';
import { closeReasons, Session, type SessionSink } from '../core/session.ts';
import type { UserId } from '../store/types.ts';
import { writeBatched } from './batched-writes.ts';
import { corsHeaders } from './origin.ts';

export const keepAliveIntervalMs = 15_000;
const keepAliveFrame = ':\n\n';

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
    close: () => outgoing.end(),
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

/**
 * Opens a user's stream on a hub: refuses (undefined) when the user already holds the most
 * connections allowed, otherwise sends the headers (with CORS for allowed origins) and registers the
 * stream with the core presence as the user's.
 */
export async function openUserStream(core: Core, env: HttpBindings, request: { hub: string; userId: UserId; origin: string | undefined }): Promise<Session | undefined> {
  if (!(await core.presence.hasRoomFor(request.userId))) return undefined;
  const session = openSseStream(env.incoming, env.outgoing, {
    hub: request.hub,
    maxBufferedBytes: core.config.sendQueueBytes,
    headers: corsHeaders(request.origin, core.config.origins),
  });
  core.presence.attach(session);
  core.presence.bind(session, request.userId);
  return session;
}
