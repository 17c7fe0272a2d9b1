// Named random secrets in Redis (`{meta}:secret:<name>`), shared by every node on that Redis so
// they all sign and verify with the same key. SET NX then GET in one MULTI: the first node to
// ask creates it, every other (racing or later) gets the winner's bytes.

import { randomBytes } from 'node:crypto';
import { StoreError } from '../types.ts';
import type { RedisConnection } from './connection.ts';

// The file store's rules, so a name or size valid for one store is valid for the other.
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const MAX_BYTES = 64 * 1024;

export async function readOrCreateSecret(conn: RedisConnection, name: string, bytes: number): Promise<Uint8Array> {
  conn.live();
  if (!NAME_RE.test(name)) throw new StoreError('EINVAL', `bad secret name ${JSON.stringify(name)} (letters, digits, . _ -)`);
  if (!Number.isInteger(bytes) || bytes < 1 || bytes > MAX_BYTES) throw new StoreError('EINVAL', `secret size must be 1..${MAX_BYTES} bytes`);
  const key = conn.keys.secret(name);
  const [, stored] = await conn.transaction([
    ['set', key, randomBytes(bytes), 'NX'],
    ['getBuffer', key],
  ]);
  const buf = stored as Buffer | null;
  if (!buf) throw new StoreError('ECORRUPT', `secret ${name}: vanished while reading`);
  if (buf.length !== bytes) {
    throw new StoreError('ECORRUPT', `secret ${name} (${key}) holds ${buf.length} bytes, expected ${bytes}; refusing to replace a secret (delete the key to generate a new one)`);
  }
  return new Uint8Array(buf);
}
