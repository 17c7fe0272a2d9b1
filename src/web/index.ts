// The web console at /ui/: a chat client for people (/ui/) and an operator's view (/ui/admin). Its
// pages are static files that talk to the hubs' own HTTP APIs and streams, plus the few endpoints of
// api.ts.
import { Hono } from 'hono';
import type { Core } from '../core/core.ts';
import { consoleApi } from './api.ts';
import { loadAssets } from './assets.ts';

export function createConsole(core: Core): Hono {
  const assets = loadAssets();
  const app = new Hono();
  consoleApi(app, core);
  const serve = (name: string) => (c: import('hono').Context) => {
    const asset = assets.get(name);
    if (!asset) return c.json({ error: 'Not Found' }, 404);
    return c.body(asset.body as Uint8Array<ArrayBuffer>, 200, {
      'Content-Type': asset.type,
      'Cache-Control': name.endsWith('.html') ? 'no-cache' : 'public, max-age=300',
      'X-Content-Type-Options': 'nosniff',
      // Everything the console loads comes from this server; nothing inline, nothing from a CDN.
      'Content-Security-Policy': "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
    });
  };
  // Mounted at the root, so that /ui and /ui/ both answer (Hono's routing is strict about slashes).
  app.get('/ui', serve('index.html'));
  app.get('/ui/', serve('index.html'));
  app.get('/ui/admin', serve('admin.html'));
  // Any other embedded file by name; unknown names are a JSON 404. A wildcard, not a `:file`
  // parameter: Hono's RegExpRouter refuses a parameter beside static routes such as /ui/admin and
  // the whole app would fall back to the slower trie router.
  app.get('/ui/*', (c) => serve(c.req.path.slice('/ui/'.length))(c));
  return app;
}
