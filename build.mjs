// Bundles the CLI into one CommonJS file (dist/flashhub.cjs). CommonJS because Node's single
// executable applications on Node 22 only run a CJS main script (reference/packaging.md).
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';

function gitCommit() {
  try {
    return execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], { stdio: ['ignore', 'pipe', 'ignore'] })
      .toString().trim();
  } catch {
    return 'unknown';
  }
}

await build({
  entryPoints: ['src/cli/main.ts'],
  outfile: 'dist/flashhub.cjs',
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node22',
  sourcemap: false,
  legalComments: 'none',
  // ws tries these optional native addons inside try/catch; leaving them out gives its pure-JS path.
  external: ['bufferutil', 'utf-8-validate'],
  define: {
    FLASHHUB_COMMIT: JSON.stringify(gitCommit()),
  },
  logLevel: 'warning',
});
