// Starts and stops one flashhub server: store, core, hubs, listeners, admin socket.
import { getRequestListener } from '@hono/node-server';
import { adminOperations } from '../admin/operations.ts';
import { listenAdmin, type AdminServer } from '../admin/server.ts';
import { adminSocketPath } from '../admin/socket-path.ts';
import type { Config } from '../config.ts';
import { createCore, type Core } from '../core/core.ts';
import { loadDemo } from '../core/demo.ts';
import type { Hub } from '../hubs/hub.ts';
import type { Logger } from '../log.ts';
import { openStore } from '../store/open.ts';
import { buildApp, type Readiness } from './app.ts';
import { hubFactories } from './hubs.ts';
import { listenAll, type Listener } from './listeners.ts';
import { routeUpgrades } from './upgrade.ts';

export interface RunningServer {
  core: Core;
  listeners: Listener[];
  admin: AdminServer;
  /** Stops accepting, closes live connections with a reason, flushes the store. Idempotent. */
  shutdown(): Promise<void>;
}

export async function startServer(config: Config, log: Logger): Promise<RunningServer> {
  const store = await openStore(config, log);
  const parts: Partial<{ hubs: Hub[]; listeners: Listener[]; admin: AdminServer; core: Core }> = {};
  try {
    const core = (parts.core = await createCore(config, store, log));
    if (config.demo) await loadDemo(core);
    const hubs = (parts.hubs = await Promise.all(hubFactories.map((factory) => factory(core))));
    const readiness: Readiness = { ready: false };
    const app = buildApp(core, hubs, readiness);
    const onRequest = getRequestListener(app.fetch, {
      errorHandler: (error) => log.error('http.listener_error', { error }),
    });
    const addresses = [{ host: config.host, port: config.port }, ...config.listen];
    const listeners = (parts.listeners = await listenAll(addresses, onRequest, routeUpgrades(hubs, config.legacyRoutes)));
    const admin = (parts.admin = await listenAdmin(adminSocketPath(config.data), adminOperations(core.directory), log));
    readiness.ready = true;
    let stopping: Promise<void> | undefined;
    return {
      core,
      listeners,
      admin,
      shutdown: () => (stopping ??= shutdown({ core, hubs, listeners, admin, readiness }, config.shutdownTimeout * 1000)),
    };
  } catch (error) {
    await Promise.allSettled([
      ...(parts.listeners ?? []).map(({ server }) => new Promise((resolve) => server.close(resolve))),
      parts.admin?.close(),
      parts.core?.cluster.leave(),
    ]);
    await store.close();
    throw error;
  }
}

interface Parts {
  core: Core;
  hubs: Hub[];
  listeners: Listener[];
  admin: AdminServer;
  readiness: Readiness;
}

async function shutdown(parts: Parts, timeoutMs: number): Promise<void> {
  const { core, listeners } = parts;
  parts.readiness.ready = false;
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), timeoutMs);
  });
  const drained = drain(parts);
  if ((await Promise.race([drained, deadline])) === 'timeout') {
    core.log.warn('server.shutdown_timeout', { seconds: timeoutMs / 1000 });
    for (const { server } of listeners) server.closeAllConnections();
  }
  clearTimeout(timer);
  // The other nodes drop this node's users now rather than when its heartbeat expires.
  await core.cluster.leave();
  // Whatever happened above, everything acknowledged is already durable; this flushes the rest.
  await core.store.close();
  core.log.info('server.stopped');
}

async function drain({ core, hubs, listeners, admin }: Parts): Promise<'drained'> {
  const closed = listeners.map(({ server }) => new Promise((resolve) => server.close(resolve)));
  core.presence.closeAll();
  await Promise.allSettled(hubs.map((hub) => hub.close?.()));
  await admin.close();
  for (const { server } of listeners) server.closeIdleConnections();
  await Promise.all(closed);
  return 'drained';
}
