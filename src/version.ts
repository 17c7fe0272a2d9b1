import pkg from '../package.json' with { type: 'json' };

// Filled in by build.mjs (esbuild `define`); absent when running from the sources.
declare const FLASHHUB_COMMIT: string | undefined;

export const version: string = pkg.version;
export const commit: string = typeof FLASHHUB_COMMIT === 'string' ? FLASHHUB_COMMIT : 'source';
