// Starts and stops one flashhub server: store, core, hubs, listeners, admin socket.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { getRequestListener } from '@hono/node-server';
import { adminOperations } from '../admin/operations.ts';
import { listenAdmin, type AdminServer } from '../admin/server.ts';
import { adminSocketPath } from '../admin/socket-path.ts';
import type { Config } from '../config.ts';
import { createCore, type Core } from '../core/core.ts';
import { GroupAdmin } from '../core/groups.ts';
import { loadDemo } from '../core/demo.ts';
import type { Hub } from '../hubs/hub.ts';
import type { Logger } from '../log.ts';
import { Metrics } from '../metrics/registry.ts';
import { sessionCounting } from '../metrics/session-counting.ts';
import { StoreTiming, timedStore } from '../metrics/store-timing.ts';
import { webhookMetrics } from '../metrics/webhook-metrics.ts';
import { openStore } from '../store/open.ts';
import { refuseUpgrade } from '../transports/refuse-upgrade.ts';
import { startWebhooks, type Webhooks } from '../webhooks/webhooks.ts';
import { buildApp, type Readiness } from './app.ts';
import { hubFactories } from './hubs.ts';
import { connectionLog } from './connection-log.ts';
import { listenAll, loadTls, type Listener, type RequestHandler } from './listeners.ts';
import { loggingRequests } from './request-log.ts';
import { routeUpgrades, type UpgradeHandler } from './upgrade.ts';

export interface RunningServer {
  core: Core;
  listeners: Listener[];
  admin: AdminServer;
  /**
   * Stops accepting, lets the requests being handled finish, closes live connections with a reason
   * (SSE `retry:`, WebSocket 1012), flushes the store. Done within shutdown_timeout. Idempotent.
   */
  shutdown(): Promise<void>;
}

export async function startServer(config: Config, log: Logger): Promise<RunningServer> {
  // Before the store: a bad certificate must not even take the data directory's lock.
  const tls = loadTls(config);
  const store = await openStore(config, log);
  const parts: Partial<{ hubs: Hub[]; listeners: Listener[]; admin: AdminServer; core: Core }> = {};
  try {
    // Built before the core, so that the hubs get a store whose writes are timed.
    const metrics = config.metrics ? new Metrics() : undefined;
    const storeTiming = new StoreTiming(metrics ?? { written: () => {} });
    const core = (parts.core = await createCore(config, metrics ? timedStore(store, storeTiming) : store, log));
    core.presence.watchSessions(sessionCounting(core.counters));
    core.presence.watchSessions(connectionLog(log));
    if (config.demo) await loadDemo(core);
    const webhooks = startWebhooks(core);
    const hubs = (parts.hubs = await Promise.all(hubFactories.map((factory) => factory(core))));
    metrics?.watch(core, storeTiming, [webhookMetrics(() => webhooks.stats())]);
    const readiness: Readiness = { ready: false };
    const app = buildApp(core, hubs, readiness, metrics);
    const traffic = new Traffic();
    const onRequest = traffic.requests(
      loggingRequests(
        getRequestListener(app.fetch, {
          errorHandler: (error) => log.error('http.listener_error', { error }),
        }),
        log,
        metrics,
        hubs.map((hub) => hub.name),
      ),
    );
    const onUpgrade = traffic.upgrades(routeUpgrades(hubs, config.legacyRoutes));
    const addresses = [{ host: config.host, port: config.port }, ...config.listen];
    const listeners = (parts.listeners = await listenAll(addresses, onRequest, onUpgrade, tls));
    const admin = (parts.admin = await listenAdmin(adminSocketPath(config.data), adminOperations(core.directory, { groups: new GroupAdmin(core.store, core.directory, config.roomNameLength), tokens: core.tokens, store }), log));
    if (tls) {
      log.info('server.tls', { certificate: config.tlsCert, subject: tls.subject, validTo: tls.validTo });
      if (tls.expired) log.warn('server.tls_certificate_expired', { certificate: config.tlsCert, validTo: tls.validTo });
    }
    readiness.ready = true;
    let stopping: Promise<void> | undefined;
    return {
      core,
      listeners,
      admin,
      shutdown: () => (stopping ??= shutdown({ core, hubs, listeners, admin, readiness, traffic, webhooks }, config.shutdownTimeout * 1000)),
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

/**
 * What the listeners are doing, for the shutdown: requests being handled (their promise ends once the
 * answer is written, so with it any store write the handler waited for), and whether new work is
 * still welcome.
 */
class Traffic {
  #closing = false;
  readonly #inFlight = new Set<ServerResponse>();
  #idle: (() => void)[] = [];

  get inFlight(): number {
    return this.#inFlight.size;
  }

  /** From now on, answers end their connection (keep-alive is off), and upgrades are refused. */
  close(): void {
    this.#closing = true;
    for (const response of this.#inFlight) if (!response.headersSent) response.shouldKeepAlive = false;
  }

  requests(handler: RequestHandler): RequestHandler {
    return (request: IncomingMessage, response: ServerResponse) => {
      // A request that came on a kept-alive connection after the stop is still served, but its
      // connection ends with the answer.
      if (this.#closing) response.shouldKeepAlive = false;
      this.#inFlight.add(response);
      const done = () => {
        this.#inFlight.delete(response);
        if (this.#inFlight.size === 0) for (const wake of this.#idle.splice(0)) wake();
      };
      try {
        Promise.resolve(handler(request, response)).then(done, done);
      } catch (error) {
        done();
        throw error;
      }
    };
  }

  upgrades(handler: UpgradeHandler): UpgradeHandler {
    return (request: IncomingMessage, socket: Duplex, head: Buffer) => {
      if (!this.#closing) return handler(request, socket, head);
      socket.on('error', () => socket.destroy());
      refuseUpgrade(socket, 503, JSON.stringify({ error: 'server shutting down' }));
    };
  }

  /** Resolves when no request is being handled. */
  idle(): Promise<void> {
    if (this.#inFlight.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }
}

interface Parts {
  core: Core;
  hubs: Hub[];
  listeners: Listener[];
  admin: AdminServer;
  readiness: Readiness;
  traffic: Traffic;
  webhooks: Webhooks;
}

/** How often, while draining, idle keep-alive connections are closed and late sessions told to go. */
const sweepIntervalMs = 50;

/**
 * The time kept, out of shutdown_timeout, for what follows the drain (hubs' last writes, leaving the
 * cluster, flushing the store), so the process is gone within shutdown_timeout.
 */
function finishReserveMs(timeoutMs: number): number {
  return Math.min(2000, Math.max(250, timeoutMs / 5));
}

async function shutdown(parts: Parts, timeoutMs: number): Promise<void> {
  const { core, hubs, listeners, traffic } = parts;
  const started = Date.now();
  parts.readiness.ready = false;
  traffic.close();
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), timeoutMs - finishReserveMs(timeoutMs));
  });
  let sweeper: NodeJS.Timeout | undefined;
  const drained = drain(parts, (interval) => (sweeper = interval));
  if ((await Promise.race([drained, deadline])) === 'timeout') {
    const connections = listeners.reduce((sum, listener) => sum + listener.connections(), 0);
    core.log.warn('server.shutdown_timeout', {
      seconds: timeoutMs / 1000,
      detail: 'connections still open were cut',
      connections,
      requestsInFlight: traffic.inFlight,
      sessions: core.presence.size,
    });
    for (const listener of listeners) listener.destroyConnections();
    void parts.admin.close();
  }
  clearTimeout(timer);
  clearInterval(sweeper);
  const drainedMs = Date.now() - started;
  // Every client is gone: no session can open or close any more, so the hubs' last writes (dm's
  // delivery cursors) are complete.
  core.presence.closeAll();
  await Promise.allSettled(hubs.map((hub) => hub.close?.()));
  await parts.webhooks.close();
  // The other nodes drop this node's users now rather than when its heartbeat expires.
  await core.cluster.leave();
  // Whatever happened above, everything acknowledged is already durable; this flushes the rest.
  await core.store.close();
  core.log.info('server.stopped', { ms: Date.now() - started, drainedMs });
}

/**
 * Stop accepting → tell every live session to go (SSE streams get `retry:` and end, WebSockets close
 * 1012) → let the requests being handled finish (a request on a kept-alive connection still gets its
 * answer, then the connection ends) → close the admin socket → resolve when the last connection is
 * gone. Until then a sweep closes keep-alive connections that fell idle and sessions that opened late
 * (an upgrade or a stream whose checks were already running when the stop came).
 */
async function drain({ core, listeners, admin, traffic }: Parts, onSweep: (interval: NodeJS.Timeout) => void): Promise<'drained'> {
  const closed = listeners.map(({ server }) => new Promise((resolve) => server.close(resolve)));
  core.presence.closeAll();
  onSweep(
    setInterval(() => {
      core.presence.closeAll();
      for (const { server } of listeners) server.closeIdleConnections();
    }, sweepIntervalMs),
  );
  await traffic.idle();
  await admin.close();
  for (const { server } of listeners) server.closeIdleConnections();
  await Promise.all(closed);
  return 'drained';
}
