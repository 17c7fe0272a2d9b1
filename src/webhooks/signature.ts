// The Standard Webhooks signature (https://www.standardwebhooks.com): HMAC-SHA256 over
// "<webhook-id>.<webhook-timestamp>.<body>", sent as "v1,<base64>" in webhook-signature, so that
// receivers can verify with the spec's libraries (npm `standardwebhooks`) or a few lines of crypto.
import { createHmac, randomBytes } from 'node:crypto';

const whsecPrefix = 'whsec_';

/**
 * The HMAC key of a configured secret: a `whsec_<base64>` secret is the spec's serialization of the
 * key's bytes; any other text is used as its own UTF-8 bytes (receivers then pass those bytes to the
 * library with format "raw").
 */
export function webhookKey(secret: string): Buffer {
  return secret.startsWith(whsecPrefix) ? Buffer.from(secret.slice(whsecPrefix.length), 'base64') : Buffer.from(secret, 'utf8');
}

/** The webhook-signature value for one attempt; `timestamp` is the attempt's, in whole seconds. */
export function signature(key: Buffer, id: string, timestamp: number, body: string): string {
  return `v1,${createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64')}`;
}

/**
 * A unique event id, the same for every attempt and every URL: receivers use it to drop duplicates.
 * The spec forbids '.' in it (it delimits the signed content); base64url has none.
 */
export function newEventId(): string {
  return `msg_${randomBytes(16).toString('base64url')}`;
}
