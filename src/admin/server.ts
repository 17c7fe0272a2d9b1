// The server's end of the admin socket. Only the owner of the data directory can reach it (the socket
// is 0600 inside a 0700 directory), so holding a connection is the authorisation.
import { chmod, rm } from 'node:fs/promises';
import net from 'node:net';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Logger } from '../log.ts';
import { StoreError } from '../store/types.ts';
import { runOperation, type AdminOperations } from './operations.ts';
import { encodeLine, maxAdminLineBytes, streamStart, type AdminAnswer, type AdminRequest } from './protocol.ts';
import { AdminStream } from './stream.ts';

export interface AdminServer {
  path: string;
  close(): Promise<void>;
}

export async function listenAdmin(socketPath: string, operations: AdminOperations, log: Logger): Promise<AdminServer> {
  // We hold the store lock, so a socket file left here belongs to a server that died.
  if (process.platform !== 'win32') await rm(socketPath, { force: true });
  const server = net.createServer((socket) => serveConnection(socket, operations, log));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => resolve());
  });
  if (process.platform !== 'win32') await chmod(socketPath, 0o600);
  return {
    path: socketPath,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

function serveConnection(socket: net.Socket, operations: AdminOperations, log: Logger): void {
  let buffered = '';
  socket.setEncoding('utf8');
  socket.setTimeout(30_000, () => socket.destroy());
  socket.on('error', () => socket.destroy());
  socket.on('data', (chunk: string) => {
    buffered += chunk;
    const end = buffered.indexOf('\n');
    if (end < 0) {
      if (buffered.length > maxAdminLineBytes) socket.end(encodeLine({ ok: false, error: { code: 'too_large', message: 'request too large' } }));
      return;
    }
    socket.pause();
    void respond(socket, buffered.slice(0, end), operations, log);
  });
}

async function respond(socket: net.Socket, line: string, operations: AdminOperations, log: Logger): Promise<void> {
  const request = parseRequest(line);
  if (request === undefined) {
    socket.end(encodeLine({ ok: false, error: { code: 'bad_request', message: 'expected {"op":..,"args":{..}}' } }));
    return;
  }
  const answer = await run(request, operations, log);
  if (answer.ok && answer.result instanceof AdminStream) await stream(socket, request.op, answer.result, log);
  else socket.end(encodeLine(answer));
}

function parseRequest(line: string): AdminRequest | undefined {
  try {
    const request = JSON.parse(line) as AdminRequest;
    if (typeof request?.op !== 'string' || typeof request.args !== 'object' || request.args === null) return undefined;
    return request;
  } catch {
    return undefined;
  }
}

async function run(request: AdminRequest, operations: AdminOperations, log: Logger): Promise<AdminAnswer> {
  try {
    const result = await runOperation(operations, request.op, request.args);
    log.info('admin.command', { op: request.op, ok: result.ok });
    return result;
  } catch (error) {
    log.error('admin.command_failed', { op: request.op, error });
    return { ok: false, error: { code: 'internal', message: 'the server could not run the command; see its log' } };
  }
}

/**
 * Sends a stream's chunks as frames, each written when the client has taken the one before
 * (pipeline's backpressure). No idle timeout: a client writing a backup to a slow disk may pause
 * for long; one that goes away ends the stream, since the next write fails.
 */
async function stream(socket: net.Socket, op: string, source: AdminStream, log: Logger): Promise<void> {
  socket.setTimeout(0);
  async function* frames(): AsyncGenerator<string> {
    yield encodeLine(streamStart);
    const chunks = source.chunks[Symbol.asyncIterator]();
    try {
      for (;;) {
        // Only the source's failures become an error frame; a client that hung up ends the yield below.
        const next = await chunks.next().catch((error: unknown) => ({ failed: error }));
        if ('failed' in next) {
          log.error('admin.stream_failed', { op, error: next.failed });
          yield encodeLine({ error: { code: 'internal', message: failureMessage(next.failed) } });
          return;
        }
        if (next.done) break;
        yield encodeLine({ data: next.value });
      }
      yield encodeLine({ end: true });
    } finally {
      await chunks.return?.();
    }
  }
  try {
    await pipeline(Readable.from(frames(), { highWaterMark: 1 }), socket);
    log.info('admin.stream_done', { op });
  } catch (error) {
    log.warn('admin.stream_aborted', { op, reason: (error as Error).message });
  }
}

/** A store's own errors say what is wrong (e.g. Redis unreachable) and hold nothing secret. */
function failureMessage(error: unknown): string {
  return error instanceof StoreError ? error.message : 'the server failed while streaming; see its log';
}
