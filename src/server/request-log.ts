// One log line per HTTP request once its answer is written, with its status and how long it took;
// the same figures go to /metrics. Query strings are left out: EventSource clients carry their
// tokens there (?token=, ?access_token=).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../log.ts';
import type { RequestHandler } from './listeners.ts';

export interface RequestObserver {
  requestServed(hub: string, code: number, seconds: number): void;
}

/** Probes and scrapes come every few seconds; at info they would bury everything else. */
const quietPaths = new Set(['/healthz', '/readyz', '/metrics']);
const longestLoggedPath = 200;

export function loggingRequests(handler: RequestHandler, log: Logger, observer: RequestObserver | undefined, hubNames: readonly string[]): RequestHandler {
  const hubs = new Set(hubNames);
  return (request: IncomingMessage, response: ServerResponse) => {
    const started = performance.now();
    const served = () => {
      const seconds = (performance.now() - started) / 1000;
      const path = pathOf(request.url);
      observer?.requestServed(hubOf(path, hubs), response.statusCode, seconds);
      const fields = {
        method: request.method,
        path: path.length > longestLoggedPath ? path.slice(0, longestLoggedPath) + '…' : path,
        status: response.statusCode,
        ms: Math.round(seconds * 10_000) / 10,
        address: request.socket.remoteAddress,
      };
      if (quietPaths.has(path)) log.debug('http.request', fields);
      else log.info('http.request', fields);
    };
    const answered = handler(request, response);
    Promise.resolve(answered).then(served, served);
    return answered;
  };
}

function pathOf(url: string | undefined): string {
  const raw = url ?? '/';
  const query = raw.indexOf('?');
  return query === -1 ? raw : raw.slice(0, query);
}

/** The metrics label: the hub whose prefix the path has, the web console, or 'root' (health, seed paths). */
function hubOf(path: string, hubs: ReadonlySet<string>): string {
  const first = path.split('/', 2)[1] ?? '';
  if (hubs.has(first)) return first;
  return first === 'ui' ? 'console' : 'root';
}
