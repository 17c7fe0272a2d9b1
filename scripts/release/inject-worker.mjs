// Worker thread for build-release.mjs: builds one target's executable (postject is CPU-bound WASM,
// so two targets at a time use both cores of the build machine). The output does not depend on
// which worker built it or in which order.
import { readFileSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { checkExecutable, buildExecutable } from './sea.mjs';
import { sha256 } from './checksums.mjs';

const { basePath, blobPath, target, out, identifier } = workerData;
const started = process.hrtime.bigint();
const blob = readFileSync(blobPath);
const exe = await buildExecutable({ base: readFileSync(basePath), blob, target, out, identifier });
const { problems, details } = checkExecutable(exe, target, blob);
parentPort.postMessage({
  size: exe.length,
  sha256: sha256(exe),
  problems,
  details,
  seconds: Number(process.hrtime.bigint() - started) / 1e9,
});
