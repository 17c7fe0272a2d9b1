// flashhub's build.
//
//   node build.mjs                     bundle the CLI into dist/flashhub.cjs (fast, offline; `npm ci`
//                                      runs this through "prepare", and bin/flashhub.js loads it)
//   node build.mjs --release           (= npm run build) the bundle, then one single executable per
//                                      target embedding Node 22.23.2: dist/flashhub-<version>-<os>-<arch>[.exe],
//                                      .tar.gz / .zip archives and dist/SHA256SUMS
//     --targets linux-x64,win-x64      only these targets (default: all five)
//     --frozen                         fail if node-bases.lock.json lacks a base (CI)
//     --no-archive                     executables only (quick local builds)
//
// The bundle is CommonJS because Node's single executable applications on Node 22 only run a CJS
// main script (reference/packaging.md). The release steps live in scripts/release/ and docs/release.md
// describes them.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { webAssetsDefine } from './scripts/release/web-assets.mjs';

const root = path.dirname(fileURLToPath(import.meta.url));

const { values: args } = parseArgs({
  options: {
    release: { type: 'boolean', default: false },
    targets: { type: 'string' },
    frozen: { type: 'boolean', default: false },
    'no-archive': { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
  strict: true,
});
if (args.help) {
  const text = readFileSync(fileURLToPath(import.meta.url), 'utf8');
  process.stdout.write(`${text.split('\n').filter((l) => l.startsWith('//')).map((l) => l.slice(3)).join('\n').split('\n\nThe bundle')[0]}\n`);
  process.exit(0);
}
// Any release-only option means a release build.
const release = args.release || args.targets !== undefined || args.frozen || args['no-archive'];

function gitCommit() {
  try {
    return execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], { cwd: root, stdio: ['ignore', 'pipe', 'ignore'] })
      .toString().trim();
  } catch {
    return 'unknown';
  }
}

const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
const commit = gitCommit();
const bundle = path.join(root, 'dist/flashhub.cjs');

try {
  await build({
    absWorkingDir: root, // paths in the bundle's comments are relative to it: the same in any clone
    entryPoints: ['src/cli/main.ts'],
    outfile: bundle,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node22',
    sourcemap: false,
    legalComments: 'none',
    // ws tries these optional native addons inside try/catch; leaving them out gives its pure-JS path.
    external: ['bufferutil', 'utf-8-validate'],
    define: {
      FLASHHUB_COMMIT: JSON.stringify(commit),
      // The web console's files (src/web/public/**), so the executable serves them with nothing beside it.
      FLASHHUB_WEB_ASSETS: webAssetsDefine(path.join(root, 'src/web/public')),
    },
    logLevel: 'warning',
    // src/web/assets.ts reads import.meta.url only when running from the sources; in the bundle the
    // embedded FLASHHUB_WEB_ASSETS is used instead, so the empty import.meta there is expected.
    logOverride: { 'empty-import-meta': 'silent' },
  });

  if (release) {
    const { buildRelease } = await import('./scripts/release/build-release.mjs');
    const { parseTargets } = await import('./scripts/release/targets.mjs');
    console.log(`flashhub ${pkg.version} (commit ${commit}): release build`);
    await buildRelease({
      root,
      bundle,
      appName: 'flashhub',
      version: pkg.version,
      commit,
      targets: parseTargets(args.targets),
      frozen: args.frozen,
      archives: !args['no-archive'],
    });
  }
} catch (error) {
  console.error(`build failed: ${error instanceof Error ? error.message : error}`);
  process.exit(1);
}
