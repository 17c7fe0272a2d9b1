// The HTTP application: health endpoints, the hubs under their prefixes and (in compatibility mode)
// at the root, and JSON answers for everything else.
import { Hono } from 'hono';
import { cors } from 'hono/cors';
import type { Core } from '../core/core.ts';
import type { Hub } from '../hubs/hub.ts';
import { allowedOrigin } from '../transports/origin.ts';
import { isUnavailable, unavailableMessage } from '../store/types.ts';
import { errorBody } from './error-shape.ts';
import { dispatchRootConflicts } from './root-dispatch.ts';
import { createConsole } from '../web/index.ts';
import type { Metrics } from '../metrics/registry.ts';
import { metricsRoute } from '../metrics/route.ts';

export interface Readiness {
  ready: boolean;
}

export function buildApp(core: Core, hubs: Hub[], readiness: Readiness, metrics?: Metrics): Hono {
  const app = new Hono();
  const corsHeaders = cors({ origin: (origin) => allowedOrigin(origin, core.config.origins) ?? null, credentials: true });
  // Hono's cors() touches c.res before the handler runs, which turns every response into a full
  // web Response that @hono/node-server must stream: a third of the throughput of a bare handler
  // (docs/performance.md). Only browsers send Origin, and only they need the CORS headers.
  app.use('*', (c, next) => {
    if (c.req.header('origin') !== undefined) return corsHeaders(c, next);
    c.header('Vary', 'Origin');
    return next();
  });
  // A declared body over the limit is refused before anyone reads it; chunked bodies are limited
  // while being read (transports/json-body.ts). The unread body makes the connection unusable,
  // hence Connection: close (or the client's next request on it fails).
  app.use('*', async (c, next) => {
    const declared = Number(c.req.header('content-length') ?? 0);
    if (declared > core.config.bodyLimit) {
      return c.json(errorBody(hubs, c.req.path, 413, `request body larger than ${core.config.bodyLimit} bytes`), 413, { Connection: 'close' });
    }
    await next();
  });

  app.get('/healthz', (c) => c.json({ status: 'ok' }));
  app.get('/readyz', (c) =>
    readiness.ready && core.cluster.ready() && core.store.ready() ? c.json({ status: 'ready' }) : c.json({ status: 'not ready' }, 503),
  );
  if (metrics) metricsRoute(app, metrics, core.config.metricsToken);
  // Seed 000 answers its health check at the root; browsers are sent to the web console.
  app.get('/', (c) => ((c.req.header('accept') ?? '').includes('text/html') ? c.redirect('/ui/', 302) : c.text('healthcheck!')));
  app.route('/', createConsole(core));

  for (const hub of hubs) app.route(`/${hub.name}`, hub.app);
  if (core.config.legacyRoutes) {
    dispatchRootConflicts(app, hubs, core.config.bodyLimit);
    for (const hub of hubs) if (hub.legacyApp) app.route('/', hub.legacyApp);
  }

  app.notFound((c) => c.json(errorBody(hubs, c.req.path, 404, 'Not Found'), 404));
  app.onError((error, c) => {
    if (isUnavailable(error)) return c.json({ error: unavailableMessage }, 503, { 'Retry-After': '1' });
    core.log.error('http.unhandled_error', { method: c.req.method, path: c.req.path, error: error.stack ?? error.message });
    return c.json({ error: 'Internal Server Error' }, 500);
  });
  return app;
}
