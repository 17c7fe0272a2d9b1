// The console's files. The release build embeds src/web/public into the bundle (the esbuild define
// FLASHHUB_WEB_ASSETS: a JSON object of path → base64); from the sources they are read from disk.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

declare const FLASHHUB_WEB_ASSETS: string | undefined;

export interface Asset {
  body: Uint8Array;
  type: string;
}

const types: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
};

export function loadAssets(): Map<string, Asset> {
  const files = typeof FLASHHUB_WEB_ASSETS === 'string' ? embedded(FLASHHUB_WEB_ASSETS) : fromDisk();
  const assets = new Map<string, Asset>();
  for (const [name, body] of files) assets.set(name, { body, type: types[path.extname(name)] ?? 'application/octet-stream' });
  return assets;
}

function embedded(json: string): [string, Uint8Array][] {
  return Object.entries(JSON.parse(json) as Record<string, string>).map(([name, base64]) => [name, Buffer.from(base64, 'base64')]);
}

function fromDisk(): [string, Uint8Array][] {
  const root = fileURLToPath(new URL('./public/', import.meta.url));
  return (readdirSync(root, { recursive: true, withFileTypes: true }) as import('node:fs').Dirent[])
    .filter((entry) => entry.isFile())
    .map((entry) => {
      const full = path.join(entry.parentPath, entry.name);
      return [path.relative(root, full).split(path.sep).join('/'), readFileSync(full)];
    });
}
