// Every listener serves the same app: the main --host/--port and any --listen extras (so the seed-000
// clients can keep their :4500 and :4501). With tls_cert/tls_key every one of them speaks HTTPS (and
// so WSS: upgrades arrive on the same 'upgrade' event, over the TLS socket).
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { Duplex } from 'node:stream';
import type { AddressInfo, Socket } from 'node:net';
import { createSecureContext } from 'node:tls';
import { ConfigError, type Config, type ListenAddress } from '../config.ts';
import { refuseUpgrade } from '../transports/refuse-upgrade.ts';
import type { UpgradeHandler } from './upgrade.ts';

export type RequestHandler = (request: IncomingMessage, response: ServerResponse) => unknown;

export interface Listener {
  server: HttpServer | HttpsServer;
  address: AddressInfo;
  scheme: 'http' | 'https';
  /** Open connections, upgraded ones (WebSockets) included. */
  connections(): number;
  /**
   * Destroys every open connection. The server's closeAllConnections() knows only connections that
   * still speak HTTP; a WebSocket left it at the upgrade, so this uses the raw sockets.
   */
  destroyConnections(): void;
}

/** The PEM files of tls_cert and tls_key, read and checked once at start. */
export interface TlsCredentials {
  cert: Buffer;
  key: Buffer;
  subject: string;
  validTo: string;
  /** Past its validTo: browsers will refuse it, but starting lets the operator see the warning. */
  expired: boolean;
}

/**
 * Reads and checks tls_cert/tls_key (undefined when TLS is off). A missing, unreadable or invalid
 * file, or a key that is not the certificate's, stops start-up with a message naming the setting and
 * the file, never the key material.
 */
export function loadTls(config: Pick<Config, 'tlsCert' | 'tlsKey'>): TlsCredentials | undefined {
  if (config.tlsCert === '' && config.tlsKey === '') return undefined;
  const cert = readPem('tls_cert', config.tlsCert);
  const key = readPem('tls_key', config.tlsKey);
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(cert);
  } catch {
    throw tlsError(`tls_cert: ${config.tlsCert} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
  }
  let privateKey;
  try {
    privateKey = createPrivateKey(key);
  } catch {
    const encrypted = /ENCRYPTED/.test(key.toString('latin1'));
    throw tlsError(
      encrypted
        ? `tls_key: ${config.tlsKey} is an encrypted private key; flashhub needs it unencrypted (e.g. openssl pkey -in ${config.tlsKey} -out key.pem)`
        : `tls_key: ${config.tlsKey} holds no readable PEM private key (-----BEGIN PRIVATE KEY-----)`,
    );
  }
  if (!certificate.checkPrivateKey(privateKey)) {
    throw tlsError(`tls_key: the private key in ${config.tlsKey} does not belong to the certificate in ${config.tlsCert}`);
  }
  try {
    // The whole chain as the listeners will use it.
    createSecureContext({ cert, key });
  } catch (error) {
    throw tlsError(`tls_cert/tls_key: ${config.tlsCert} and ${config.tlsKey} cannot be used together (${opensslReason(error)})`);
  }
  return {
    cert,
    key,
    subject: certificate.subject.replace(/\n/g, ', '),
    validTo: certificate.validTo,
    expired: new Date(certificate.validTo).getTime() < Date.now(),
  };
}

function readPem(setting: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'is a directory' : (error as Error).message;
    throw tlsError(`${setting}: cannot read ${file}: ${why}`);
  }
}

function tlsError(detail: string): ConfigError {
  return new ConfigError(`invalid configuration:\n  ${detail}`);
}

/** OpenSSL's reason ("key values mismatch", "bad end line"): never any of the file's content. */
function opensslReason(error: unknown): string {
  const { reason, message } = error as { reason?: string; message?: string };
  return reason ?? (message ?? String(error)).split('\n')[0]!;
}

export async function listenAll(addresses: ListenAddress[], onRequest: RequestHandler, onUpgrade: UpgradeHandler, tls?: TlsCredentials): Promise<Listener[]> {
  const listeners: Listener[] = [];
  try {
    for (const address of addresses) listeners.push(await listen(address, onRequest, onUpgrade, tls));
  } catch (error) {
    await Promise.all(listeners.map(({ server }) => new Promise((resolve) => server.close(resolve))));
    throw error;
  }
  return listeners;
}

function listen(address: ListenAddress, onRequest: RequestHandler, onUpgrade: UpgradeHandler, tls: TlsCredentials | undefined): Promise<Listener> {
  const server = tls ? createHttpsServer({ cert: tls.cert, key: tls.key }, onRequest) : createHttpServer(onRequest);
  server.on('upgrade', onUpgrade);
  // Requests Node's parser refuses before any route sees them still get a JSON answer.
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
    if (!socket.writable) return socket.destroy();
    const tooLarge = error.code === 'HPE_HEADER_OVERFLOW';
    const message = tooLarge ? 'request line and headers larger than 16 KiB' : 'malformed HTTP request';
    refuseUpgrade(socket, tooLarge ? 431 : 400, JSON.stringify({ error: message }));
  });
  // A failed TLS handshake (plain HTTP on the TLS port, a client that distrusts the certificate) just
  // ends that connection; Node destroys the socket when nobody listens for tlsClientError.
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  return new Promise((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      const where = `${address.host || '*'}:${address.port}`;
      reject(new Error(error.code === 'EADDRINUSE' ? `address ${where} is already in use` : `cannot listen on ${where}: ${error.message}`));
    });
    server.listen({ port: address.port, host: address.host || undefined }, () => {
      resolve({
        server,
        address: server.address() as AddressInfo,
        scheme: tls ? 'https' : 'http',
        connections: () => sockets.size,
        destroyConnections: () => {
          server.closeAllConnections();
          for (const socket of sockets) socket.destroy();
        },
      });
    });
  });
}
