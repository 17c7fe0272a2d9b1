// Named random secrets (e.g. the token signing key) in `secrets/<name>.key`, mode 0600, in a
// 0700 directory. Created once and returned unchanged ever after.
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
  if (!NAME_RE.test(name)) throw new StoreError('EINVAL', `bad secret name ${JSON.stringify(name)} (letters, digits, . _ -)`);
  if (!Number.isInteger(bytes) || bytes < 1 || bytes > MAX_BYTES) throw new StoreError('EINVAL', `secret size must be 1..${MAX_BYTES} bytes`);
  await ensureDir(dir, sync);
  const file = path.join(dir, `${name}.key`);
  const existing = await readSecret(file, bytes);
  if (existing) return existing;

  const tmp = path.join(dir, `.${name}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  const secret = randomBytes(bytes);
  const fh = await fs.open(tmp, 'wx', 0o600);
  try {
    await fh.writeFile(secret);
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
    const theirs = await readSecret(file, bytes);
    if (!theirs) throw new StoreError('ECORRUPT', `${file}: vanished while reading`);
    return theirs;
  } finally {
    await fs.rm(tmp, { force: true });
  }
  return new Uint8Array(secret);
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
