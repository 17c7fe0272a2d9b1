// The web console's files are embedded in the bundle through the FLASHHUB_WEB_ASSETS define.
import assert from 'node:assert/strict';
import { transform } from 'esbuild';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { webAssetsDefine } from '../../scripts/release/web-assets.mjs';

describe('FLASHHUB_WEB_ASSETS', () => {
  it('is a JSON string literal of { forward-slash path: base64 }, keys sorted', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'flashhub-web-'));
    try {
      mkdirSync(path.join(dir, 'js/lib'), { recursive: true });
      writeFileSync(path.join(dir, 'index.html'), '<!doctype html>\n');
      writeFileSync(path.join(dir, 'js/lib/z.js'), 'export {};\n');
      writeFileSync(path.join(dir, 'app.css'), Buffer.from([0, 255, 10]));
      const define = webAssetsDefine(dir);
      const text = JSON.parse(define) as string;
      assert.equal(typeof text, 'string');
      const assets = JSON.parse(text) as Record<string, string>;
      assert.deepEqual(Object.keys(assets), ['app.css', 'index.html', 'js/lib/z.js']);
      assert.deepEqual(Buffer.from(assets['app.css']!, 'base64'), Buffer.from([0, 255, 10]));
      assert.equal(Buffer.from(assets['js/lib/z.js']!, 'base64').toString(), 'export {};\n');
      assert.equal(webAssetsDefine(dir), define, 'the same files give the same define');

      // esbuild accepts it and the identifier becomes that string
      const { code } = await transform('globalThis.out = typeof FLASHHUB_WEB_ASSETS === "string" ? JSON.parse(FLASHHUB_WEB_ASSETS) : null;', {
        define: { FLASHHUB_WEB_ASSETS: define },
        format: 'cjs',
      });
      const sandbox = { out: undefined as unknown };
      new Function('globalThis', code)(sandbox);
      assert.deepEqual(sandbox.out, assets);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('is the string "{}" when the directory does not exist', () => {
    assert.equal(webAssetsDefine(path.join(os.tmpdir(), 'flashhub-no-such-dir-', String(process.pid))), JSON.stringify('{}'));
  });
});
