#!/usr/bin/env node
// Thin launcher: the CLI is bundled into dist/ by build.mjs (npm ci runs it through "prepare").
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const bundle = fileURLToPath(new URL('../dist/flashhub.cjs', import.meta.url));
if (!existsSync(bundle)) {
  console.error('flashhub: dist/flashhub.cjs is missing; run `npm run build` first.');
  process.exit(1);
}
createRequire(import.meta.url)(bundle);
