// The CLI's end of the admin socket.
import net from 'node:net';
import type { AdminArgs } from './operations.ts';
import { encodeLine, maxAdminLineBytes, type AdminAnswer, type StreamFrame, type streamStart } from './protocol.ts';

/** The server's answer, or undefined when no server listens on that socket. */
export function callAdmin(socketPath: string, op: string, args: AdminArgs, timeoutMs = 60_000): Promise<AdminAnswer | undefined> {
  return new Promise((resolve, reject) => {
    let answered = false;
    let received = '';
    const socket = net.createConnection(socketPath, () => socket.write(encodeLine({ op, args })));
    socket.setEncoding('utf8');
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`the server did not answer within ${timeoutMs / 1000} s`)));
    socket.on('data', (chunk: string) => {
      received += chunk;
      if (received.length > maxAdminLineBytes) socket.destroy(new Error('answer too large'));
    });
    socket.on('end', () => {
      answered = true;
      try {
        resolve(JSON.parse(received) as AdminAnswer);
      } catch {
        reject(new Error('the server sent an unreadable answer'));
      }
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      if (answered) return;
      if (error.code === 'ENOENT' || error.code === 'ECONNREFUSED') resolve(undefined);
      else reject(error);
    });
  });
}

/** A streaming operation's answer: its text as it arrives, or the error it was refused with. */
export type AdminStreamAnswer = { ok: true; chunks: AsyncIterable<string> } | { ok: false; error: { code: string; message: string } };

/**
 * Starts a streaming operation (protocol.ts); undefined when no server listens. The chunks are read
 * from the socket only as fast as they are pulled, so the server slows down with the consumer. Pulling
 * throws if the server reports a failure or the connection ends before the stream's end frame.
 */
export async function callAdminStream(socketPath: string, op: string, args: AdminArgs, timeoutMs = 60_000): Promise<AdminStreamAnswer | undefined> {
  const socket = await connected(socketPath);
  if (socket === undefined) return undefined;
  socket.setEncoding('utf8');
  // Only until the answer starts: afterwards the consumer may pause for as long as it likes.
  socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`the server did not answer within ${timeoutMs / 1000} s`)));
  socket.write(encodeLine({ op, args }));
  const lines = frameLines(socket)[Symbol.asyncIterator]();
  try {
    const first = await lines.next();
    socket.setTimeout(0);
    if (first.done) throw new Error('the server closed the connection without answering');
    const answer = JSON.parse(first.value) as AdminAnswer | typeof streamStart;
    if (!answer.ok) {
      socket.destroy();
      return answer;
    }
    if (!('stream' in answer)) throw new Error(`${op} is not a streaming operation`);
    return { ok: true, chunks: streamChunks(lines, socket) };
  } catch (error) {
    socket.destroy();
    throw error;
  }
}

function connected(socketPath: string): Promise<net.Socket | undefined> {
  return new Promise((resolve, reject) => {
    const socket = net.createConnection(socketPath);
    socket.once('connect', () => {
      socket.off('error', refused);
      resolve(socket);
    });
    const refused = (error: NodeJS.ErrnoException) => (error.code === 'ENOENT' || error.code === 'ECONNREFUSED' ? resolve(undefined) : reject(error));
    socket.once('error', refused);
  });
}

async function* streamChunks(lines: AsyncIterator<string>, socket: net.Socket): AsyncGenerator<string> {
  try {
    for (let next = await lines.next(); !next.done; next = await lines.next()) {
      const frame = JSON.parse(next.value) as StreamFrame;
      if ('data' in frame) yield frame.data;
      else if ('error' in frame) throw new Error(frame.error.message);
      else return;
    }
    throw new Error('the server closed the connection before the end of the stream (did it stop?)');
  } finally {
    socket.destroy();
  }
}

/** The socket's text split at newlines; a new chunk is searched, never the whole buffer again. */
async function* frameLines(socket: net.Socket): AsyncGenerator<string> {
  let partial = '';
  for await (const chunk of socket as AsyncIterable<string>) {
    let start = 0;
    for (let end = chunk.indexOf('\n'); end >= 0; end = chunk.indexOf('\n', start)) {
      yield partial + chunk.slice(start, end);
      partial = '';
      start = end + 1;
    }
    partial += chunk.slice(start);
  }
}
