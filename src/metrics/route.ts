// GET /metrics: the Prometheus text format. With metrics_token set, scrapers must send it as a
// Bearer token (Prometheus: `authorization: { credentials: ... }` in the scrape config).
import { timingSafeEqual } from 'node:crypto';
import type { Hono } from 'hono';
import { bearerToken } from '../transports/bearer.ts';
import type { Metrics } from './registry.ts';

export function metricsRoute(app: Hono, metrics: Metrics, token: string): void {
  const expected = Buffer.from(token);
  app.get('/metrics', async (c) => {
    if (token !== '' && !sameSecret(bearerToken(c.req.header('authorization')), expected)) {
      return c.json({ error: 'metrics need Authorization: Bearer <metrics_token>' }, 401, { 'WWW-Authenticate': 'Bearer realm="metrics"' });
    }
    return c.body(await metrics.text(), 200, { 'Content-Type': metrics.contentType });
  });
}

function sameSecret(given: string | undefined, expected: Buffer): boolean {
  if (given === undefined) return false;
  const bytes = Buffer.from(given);
  return bytes.length === expected.length && timingSafeEqual(bytes, expected);
}
