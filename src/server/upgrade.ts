// WebSocket upgrades are routed by path on the node server's 'upgrade' event: Hono's router never sees
// them. Anything no hub claims gets a plain 404 before the socket is closed.
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Hub, UpgradeRoute } from '../hubs/hub.ts';
import { refuseUpgrade } from '../transports/refuse-upgrade.ts';
import { errorBody } from './error-shape.ts';

export type UpgradeHandler = (request: IncomingMessage, socket: Duplex, head: Buffer) => void;

export function routeUpgrades(hubs: Hub[], legacyRoutes: boolean): UpgradeHandler {
  const routes: UpgradeRoute[] = hubs.flatMap((hub) => hub.upgrades ?? []).filter((route) => legacyRoutes || !route.legacy);
  return (request, socket, head) => {
    socket.on('error', () => socket.destroy());
    const pathname = pathnameOf(request.url);
    const route = pathname === undefined ? undefined : routes.find((candidate) => candidate.matches(pathname));
    if (!route) {
      refuseUpgrade(socket, 404, JSON.stringify(errorBody(hubs, pathname ?? '/', 404, 'Not Found')));
      return;
    }
    route.handle(request, socket, head);
  };
}

function pathnameOf(url: string | undefined): string | undefined {
  try {
    return new URL(url ?? '/', 'http://localhost').pathname;
  } catch {
    return undefined;
  }
}
