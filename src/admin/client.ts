// The CLI's end of the admin socket.
import net from 'node:net';
import type { AdminArgs } from './operations.ts';
import { encodeLine, maxAdminLineBytes, type AdminAnswer } from './protocol.ts';

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
