// SHA256SUMS in the format `sha256sum -c` reads: "<64 hex>  <file name>", sorted by name.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';

export function sha256(data) {
  return createHash('sha256').update(data).digest('hex');
}

export async function sha256File(file) {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk);
  return hash.digest('hex');
}

/** The text of a SHA256SUMS file for { name: hex } (names sorted, so the file is deterministic). */
export function formatSums(sums) {
  return Object.keys(sums)
    .sort()
    .map((name) => `${sums[name]}  ${name}\n`)
    .join('');
}

/** Parses SHA256SUMS text into { name: hex }; rejects lines that are not "<64 hex>  <name>". */
export function parseSums(text) {
  const sums = {};
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const match = /^([0-9a-f]{64}) [ *](.+)$/.exec(line);
    if (!match) throw new Error(`SHA256SUMS: malformed line: ${line}`);
    sums[match[2]] = match[1];
  }
  return sums;
}

/** Checks every file listed in a SHA256SUMS file (relative to its directory); returns the mismatches. */
export async function verifySumsFile(sumsFile) {
  const dir = path.dirname(sumsFile);
  const sums = parseSums(await readFile(sumsFile, 'utf8'));
  const bad = [];
  for (const [name, expected] of Object.entries(sums)) {
    const actual = await sha256File(path.join(dir, name)).catch(() => 'missing');
    if (actual !== expected) bad.push({ name, expected, actual });
  }
  return bad;
}
