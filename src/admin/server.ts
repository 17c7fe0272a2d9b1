// The server's end of the admin socket. Only the owner of the data directory can reach it (the socket
// is 0600 inside a 0700 directory), so holding a connection is the authorisation.
import { chmod, rm } from 'node:fs/promises';
import net from 'node:net';
import type { Logger } from '../log.ts';
import { runOperation, type AdminOperations } from './operations.ts';
import { encodeLine, maxAdminLineBytes, type AdminRequest } from './protocol.ts';

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
    void answer(buffered.slice(0, end), operations, log).then((line) => socket.end(line));
  });
}

async function answer(line: string, operations: AdminOperations, log: Logger): Promise<string> {
  let request: AdminRequest;
  try {
    request = JSON.parse(line) as AdminRequest;
    if (typeof request?.op !== 'string' || typeof request.args !== 'object' || request.args === null) throw new Error('bad request');
  } catch {
    return encodeLine({ ok: false, error: { code: 'bad_request', message: 'expected {"op":..,"args":{..}}' } });
  }
  try {
    const result = await runOperation(operations, request.op, request.args);
    log.info('admin.command', { op: request.op, ok: result.ok });
    return encodeLine(result);
  } catch (error) {
    log.error('admin.command_failed', { op: request.op, error });
    return encodeLine({ ok: false, error: { code: 'internal', message: 'the server could not run the command; see its log' } });
  }
}
