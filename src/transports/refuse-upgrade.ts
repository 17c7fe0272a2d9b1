// Refusing a WebSocket upgrade (or a request Node's parser refused) means answering in plain HTTP/1.1
// on the raw socket: there is no response object yet. Hubs use it to send their own error bodies
// (e.g. dm's 401 envelope).
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';

/** Answers an upgrade request with a plain HTTP error (a hub's own error body) and closes the socket. */
export function refuseUpgrade(socket: Duplex, status: number, body: string, contentType = 'application/json'): void {
  const length = Buffer.byteLength(body);
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\nContent-Type: ${contentType}\r\n` +
      `Content-Length: ${length}\r\nConnection: close\r\n\r\n${body}`,
  );
}
