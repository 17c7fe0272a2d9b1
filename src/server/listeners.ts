// Every listener serves the same app: the main --host/--port and any --listen extras (so the seed-000
// clients can keep their :4500 and :4501).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ListenAddress } from '../config.ts';
import type { UpgradeHandler } from './upgrade.ts';

export type RequestHandler = (request: IncomingMessage, response: ServerResponse) => void;

export interface Listener {
  server: Server;
  address: AddressInfo;
}

export async function listenAll(addresses: ListenAddress[], onRequest: RequestHandler, onUpgrade: UpgradeHandler): Promise<Listener[]> {
  const listeners: Listener[] = [];
  try {
    for (const address of addresses) listeners.push(await listen(address, onRequest, onUpgrade));
  } catch (error) {
    await Promise.all(listeners.map(({ server }) => new Promise((resolve) => server.close(resolve))));
    throw error;
  }
  return listeners;
}

function listen(address: ListenAddress, onRequest: RequestHandler, onUpgrade: UpgradeHandler): Promise<Listener> {
  const server = createServer(onRequest);
  server.on('upgrade', onUpgrade);
  server.on('clientError', (_error, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    else socket.destroy();
  });
  return new Promise((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      const where = `${address.host || '*'}:${address.port}`;
      reject(new Error(error.code === 'EADDRINUSE' ? `address ${where} is already in use` : `cannot listen on ${where}: ${error.message}`));
    });
    server.listen({ port: address.port, host: address.host || undefined }, () => {
      resolve({ server, address: server.address() as AddressInfo });
    });
  });
}
