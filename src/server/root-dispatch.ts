// Two root paths belong to two hubs (DESIGN.md §3), settled by content, deterministically, with
// the header X-Flashhub-Hub: chat|dm to override:
//   POST /login  with a password → dm, without → chat (GET /login is always chat);
//   GET  /users  with ids / ids[] → chat, otherwise → dm.
// The request is handed whole to the chosen hub's root routes; the body reader caches what the
// dispatcher read, so the hub reads the same body.
import type { Context, Hono } from 'hono';
import type { Hub } from '../hubs/hub.ts';
import { readJsonBody } from '../transports/json-body.ts';

interface Rule {
  method: 'GET' | 'POST';
  path: string;
  choose(c: Context, bodyLimit: number): Promise<'chat' | 'dm'>;
}

const rules: Rule[] = [
  {
    method: 'POST',
    path: '/login',
    async choose(c, bodyLimit) {
      const body = await readJsonBody(c, bodyLimit);
      const fields = body.ok && typeof body.value === 'object' && body.value !== null ? (body.value as Record<string, unknown>) : {};
      return fields.password !== undefined ? 'dm' : 'chat';
    },
  },
  {
    method: 'GET',
    path: '/users',
    async choose(c) {
      return c.req.queries('ids[]') || c.req.queries('ids') ? 'chat' : 'dm';
    },
  },
];

export function dispatchRootConflicts(app: Hono, hubs: Hub[], bodyLimit: number): void {
  const legacyApps = new Map(hubs.flatMap((hub) => (hub.legacyApp ? [[hub.name, hub.legacyApp] as const] : [])));
  for (const rule of rules) {
    if (!legacyApps.has('chat') && !legacyApps.has('dm')) continue;
    app.on(rule.method, rule.path, async (c) => {
      const override = c.req.header('x-flashhub-hub');
      const wanted = override === 'chat' || override === 'dm' ? override : await rule.choose(c, bodyLimit);
      // With only one of the two hubs running, it takes every request.
      const target = legacyApps.get(wanted) ?? legacyApps.get(wanted === 'chat' ? 'dm' : 'chat')!;
      return target.fetch(c.req.raw, c.env);
    });
  }
}
