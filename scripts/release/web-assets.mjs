// Embeds the web console's files (src/web/public/**) into the bundle, so the executable needs no
// file beside it. build.mjs passes the result as the esbuild define FLASHHUB_WEB_ASSETS: the
// identifier becomes a JSON *string* literal whose text is {"<path>": "<base64>", ...}, with
// forward-slash paths relative to the directory and keys sorted (the same files give the same
// bundle). Without the directory it is '{}'. The server reads it with
//   declare const FLASHHUB_WEB_ASSETS: string | undefined;
//   const assets = typeof FLASHHUB_WEB_ASSETS === 'string' ? JSON.parse(FLASHHUB_WEB_ASSETS) : undefined;
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

/** { "<relative/path>": Buffer } of every regular file under `dir`, or {} when it does not exist. */
export function collectWebAssets(dir) {
  const files = {};
  if (!existsSync(dir)) return files;
  if (!statSync(dir).isDirectory()) throw new Error(`${dir} is not a directory`);
  const walk = (relative) => {
    const entries = readdirSync(path.join(dir, relative), { withFileTypes: true });
    for (const entry of entries) {
      const rel = relative ? `${relative}/${entry.name}` : entry.name;
      if (entry.isDirectory()) walk(rel);
      else if (entry.isFile()) files[rel] = readFileSync(path.join(dir, rel));
      else if (entry.isSymbolicLink() && statSync(path.join(dir, rel)).isFile()) files[rel] = readFileSync(path.join(dir, rel));
    }
  };
  walk('');
  return files;
}

/** The define's value: JSON.stringify(JSON.stringify(sorted { path: base64 })). */
export function webAssetsDefine(dir) {
  const files = collectWebAssets(dir);
  const sorted = {};
  for (const name of Object.keys(files).sort()) sorted[name] = files[name].toString('base64');
  return JSON.stringify(JSON.stringify(sorted));
}
