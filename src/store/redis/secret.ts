// Named random secrets in Redis (`{meta}:secret:<name>`), shared by every node on that Redis so
// they all sign and verify with the same key. SET NX then GET in one MULTI: the first node to
// ask creates it, every other (racing or later) gets the winner's bytes. A migration may bring
// one in from another store, under the same rule: a name that exists is never replaced.

import { randomBytes } from 'node:crypto';
import { StoreError } from '../types.ts';
import type { RedisConnection } from './connection.ts';
import { scanKeys } from './scan.ts';

// The file store's rules, so a name or size valid for one store is valid for the other.
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const MAX_BYTES = 64 * 1024;

export async function readOrCreateSecret(conn: RedisConnection, name: string, bytes: number): Promise<Uint8Array> {
  checkSecret(conn, name, bytes);
  const buf = await setUnlessExists(conn, name, randomBytes(bytes));
  if (buf.length !== bytes) {
    throw new StoreError('ECORRUPT', `secret ${name} (${conn.keys.secret(name)}) holds ${buf.length} bytes, expected ${bytes}; refusing to replace a secret (delete the key to generate a new one)`);
  }
  return new Uint8Array(buf);
}

/** Stores a secret made elsewhere (flashhub migrate); 'EEXIST' if the name holds other bytes. */
export async function writeSecret(conn: RedisConnection, name: string, value: Uint8Array): Promise<void> {
  checkSecret(conn, name, value.length);
  const now = await setUnlessExists(conn, name, Buffer.from(value));
  if (!now.equals(value)) throw new StoreError('EEXIST', `secret ${name} exists with other bytes; refusing to replace it`);
}

/** Every secret, by name. */
export async function listSecrets(conn: RedisConnection): Promise<{ name: string; value: Uint8Array }[]> {
  conn.live();
  const start = conn.keys.secret('').length;
  const out: { name: string; value: Uint8Array }[] = [];
  for await (const keys of scanKeys(conn, conn.keys.metaPattern('secret:'))) {
    const values = await conn.transaction(keys.map((key) => ['getBuffer', key]));
    keys.forEach((key, i) => {
      const value = values[i] as Buffer | null;
      if (value) out.push({ name: key.slice(start), value: new Uint8Array(value) });
    });
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

function checkSecret(conn: RedisConnection, name: string, bytes: number): void {
  conn.live();
  if (!NAME_RE.test(name)) throw new StoreError('EINVAL', `bad secret name ${JSON.stringify(name)} (letters, digits, . _ -)`);
  if (!Number.isInteger(bytes) || bytes < 1 || bytes > MAX_BYTES) throw new StoreError('EINVAL', `secret size must be 1..${MAX_BYTES} bytes`);
}

/** Sets the secret unless it exists; returns the bytes it holds now. */
async function setUnlessExists(conn: RedisConnection, name: string, value: Buffer): Promise<Buffer> {
  const key = conn.keys.secret(name);
  const [, stored] = await conn.transaction([
    ['set', key, value, 'NX'],
    ['getBuffer', key],
  ]);
  const buf = stored as Buffer | null;
  if (!buf) throw new StoreError('ECORRUPT', `secret ${name}: vanished while reading`);
  return buf;
}
