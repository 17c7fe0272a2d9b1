// Named random secrets (e.g. the token signing key) in `secrets/<name>.key`, mode 0600, in a
// 0700 directory. Created once and returned unchanged ever after; a migration may bring one in
// from another store, under the same rule: a name that exists is never replaced.
//
// Creation writes a unique tmp file, fsyncs it and publishes it with link(2), which fails if the
// name exists: two racing callers (in this process or another) can never end up with different
// secrets; the loser reads the winner's file.

import fs from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { StoreError } from '../types.ts';
import { ensureDir, errnoCode, syncDir, syncFull, type SyncMode } from './fsutil.ts';

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const MAX_BYTES = 64 * 1024;

export async function readOrCreateSecret(dir: string, name: string, bytes: number, sync: SyncMode): Promise<Uint8Array> {
  checkSecret(name, bytes);
  await ensureDir(dir, sync);
  const existing = await readSecret(secretPath(dir, name), bytes);
  if (existing) return existing;
  return publish(dir, name, randomBytes(bytes), sync);
}

/** Stores a secret made elsewhere (flashhub migrate); 'EEXIST' if the name holds other bytes. */
export async function writeSecret(dir: string, name: string, value: Uint8Array, sync: SyncMode): Promise<void> {
  checkSecret(name, value.length);
  await ensureDir(dir, sync);
  const held = await fs.readFile(secretPath(dir, name)).catch((err: unknown) => {
    if (errnoCode(err) === 'ENOENT') return undefined;
    throw err;
  });
  const now = held ?? (await publish(dir, name, value, sync));
  if (!Buffer.from(now).equals(value)) throw new StoreError('EEXIST', `secret ${name} exists with other bytes; refusing to replace it`);
}

/** Every secret in the directory, by name. */
export async function listSecrets(dir: string): Promise<{ name: string; value: Uint8Array }[]> {
  let files: string[];
  try {
    files = await fs.readdir(dir);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return [];
    throw err;
  }
  const names = files.filter((f) => f.endsWith('.key') && NAME_RE.test(f.slice(0, -4))).map((f) => f.slice(0, -4));
  return Promise.all(names.sort().map(async (name) => ({ name, value: new Uint8Array(await fs.readFile(secretPath(dir, name))) })));
}

function checkSecret(name: string, bytes: number): void {
  if (!NAME_RE.test(name)) throw new StoreError('EINVAL', `bad secret name ${JSON.stringify(name)} (letters, digits, . _ -)`);
  if (!Number.isInteger(bytes) || bytes < 1 || bytes > MAX_BYTES) throw new StoreError('EINVAL', `secret size must be 1..${MAX_BYTES} bytes`);
}

const secretPath = (dir: string, name: string): string => path.join(dir, `${name}.key`);

/** Publishes `value` under `name` unless the name exists; returns the bytes the name now holds. */
async function publish(dir: string, name: string, value: Uint8Array, sync: SyncMode): Promise<Uint8Array> {
  const file = secretPath(dir, name);
  const tmp = path.join(dir, `.${name}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  const fh = await fs.open(tmp, 'wx', 0o600);
  try {
    await fh.writeFile(value);
    await syncFull(fh, sync);
  } finally {
    await fh.close();
  }
  try {
    await fs.link(tmp, file);
    await syncDir(dir, sync);
  } catch (err) {
    if (errnoCode(err) !== 'EEXIST') throw err;
    // Someone else won the race: theirs is the secret.
    const theirs = await readSecret(file, value.length);
    if (!theirs) throw new StoreError('ECORRUPT', `${file}: vanished while reading`);
    return theirs;
  } finally {
    await fs.rm(tmp, { force: true });
  }
  return new Uint8Array(value);
}

async function readSecret(file: string, bytes: number): Promise<Uint8Array | undefined> {
  let buf: Buffer;
  try {
    buf = await fs.readFile(file);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return undefined;
    throw err;
  }
  if (buf.length !== bytes) {
    throw new StoreError('ECORRUPT', `${file}: holds ${buf.length} bytes, expected ${bytes}; refusing to replace a secret (move it away to generate a new one)`);
  }
  return new Uint8Array(buf);
}
