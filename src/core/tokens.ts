// Typed, short-lived JWTs (jose, HS256). Each kind has its own key, so a token of one kind can never
// verify as another even where a check forgets to look at the kind:
// - user tokens are signed with the master secret itself, so a service that shares JWT_KEY (as in
//   seed 004) can verify them;
// - client and stream tokens with keys derived from it (HKDF).
// jose signs. Verification, which runs on every connection and API call, is a synchronous HS256 check
// with node:crypto: jose's verify cost 386 µs a call here (it turns the key into a WebCrypto key each
// time), and 217 µs with a WebCrypto key imported once (an async thread-pool hop); this check takes
// microseconds (reference/performance.md, lesson 4 and the connect-storm table).
import { createHmac, hkdfSync, randomUUID, timingSafeEqual } from 'node:crypto';
import { SignJWT } from 'jose';

export type TokenKind = 'client' | 'user' | 'stream';

export interface TokenClaims {
  kind: TokenKind;
  /** User id (user, stream) or client id (client). */
  subject: string;
  /** Username, for user and stream tokens. */
  username?: string;
  expiresAt: number; // unix seconds
  /** The token's jti: lets a hub revoke one token (e.g. chat's logout). */
  tokenId: string;
}

export interface TokenLifetimes {
  client: number;
  user: number;
  stream: number;
}

export class TokenError extends Error {
  readonly reason: 'expired' | 'invalid' | 'wrong-kind';

  constructor(reason: TokenError['reason'], message: string) {
    super(message);
    this.name = 'TokenError';
    this.reason = reason;
  }
}

const issuer = 'flashhub';
const algorithm = 'HS256';

export class Tokens {
  readonly #keys: Record<TokenKind, Buffer>;
  readonly #lifetimes: TokenLifetimes;
  /** jti → expiry (unix seconds) of tokens revoked before they expired (e.g. by a logout). */
  readonly #revoked = new Map<string, number>();
  /**
   * Payloads whose signature already checked out, per kind. Backends reuse one client token for
   * every call and reconnecting clients reuse theirs, so most checks are repeats; the HMAC was 12%
   * of a notify request's CPU. Claims (expiry, revocation) are still checked on every call.
   */
  readonly #verified: Record<TokenKind, Map<string, Record<string, unknown>>> = { client: new Map(), user: new Map(), stream: new Map() };
  readonly #failures = new Map<string, number>();
  readonly #revokeListeners = new Set<(claims: Pick<TokenClaims, 'tokenId' | 'expiresAt'>) => void>();

  constructor(masterSecret: Uint8Array, lifetimes: TokenLifetimes) {
    this.#keys = {
      user: Buffer.from(masterSecret),
      client: deriveKey(masterSecret, 'client'),
      stream: deriveKey(masterSecret, 'stream'),
    };
    this.#lifetimes = lifetimes;
  }

  lifetime(kind: TokenKind): number {
    return this.#lifetimes[kind];
  }

  /**
   * `extra` carries compatibility claims a seed's clients read (e.g. dm's `email`); `lifetime`
   * (seconds) overrides the configured one (`flashhub token user --ttl`).
   */
  async issue(kind: TokenKind, subject: string, username?: string, extra: Record<string, string> = {}, lifetime = this.#lifetimes[kind]): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ ...extra, typ: kind, ...(username === undefined ? {} : { name: username }) })
      .setProtectedHeader({ alg: algorithm, typ: 'JWT' })
      .setIssuer(issuer)
      .setSubject(subject)
      .setIssuedAt(now)
      .setExpirationTime(now + lifetime)
      .setJti(randomUUID())
      .sign(this.#keys[kind]);
  }

  /** Accepts only a token of the given kind; throws TokenError otherwise. */
  async verify(token: string, kind: TokenKind): Promise<TokenClaims> {
    try {
      return this.#claims(token, kind);
    } catch (error) {
      if (error instanceof TokenError) this.#failures.set(error.reason, (this.#failures.get(error.reason) ?? 0) + 1);
      throw error;
    }
  }

  /** Tokens that did not verify since the start, by reason ('expired', 'invalid', 'wrong-kind'), for /metrics. */
  failures(): ReadonlyMap<string, number> {
    return this.#failures;
  }

  #claims(token: string, kind: TokenKind): TokenClaims {
    const payload = this.#verifiedPayload(token, kind);
    const now = Math.floor(Date.now() / 1000);
    if (typeof payload.exp !== 'number' || typeof payload.sub !== 'string' || payload.iss !== issuer) {
      throw new TokenError('invalid', 'invalid token');
    }
    if (payload.exp <= now) throw new TokenError('expired', 'token expired');
    if (typeof payload.nbf === 'number' && payload.nbf > now) throw new TokenError('invalid', 'token not yet valid');
    if (payload.typ !== kind) throw new TokenError('wrong-kind', `not a ${kind} token`);
    if (typeof payload.jti === 'string' && this.#revoked.has(payload.jti)) throw new TokenError('invalid', 'token revoked');
    return {
      kind,
      subject: payload.sub,
      username: typeof payload.name === 'string' ? payload.name : undefined,
      expiresAt: payload.exp,
      tokenId: typeof payload.jti === 'string' ? payload.jti : '',
    };
  }

  /**
   * What a token is and whether it verifies now, or why not, for `flashhub token verify`: finds the
   * kind whose key signed it, then checks the claims as verify() does. Unverified claims are
   * reported too (signatureValid false) so a foreign or tampered token can still be read.
   */
  explain(token: string): TokenExplanation {
    const parts = token.trim().split('.');
    if (parts.length !== 3 || !parts.every((part) => base64url.test(part))) {
      return { valid: false, signatureValid: false, problem: 'wrong format: not a compact JWT (three base64url parts separated by dots)' };
    }
    let header: Record<string, unknown>;
    let payload: Record<string, unknown>;
    try {
      header = parseJson(parts[0]!);
      payload = parseJson(parts[1]!);
    } catch {
      return { valid: false, signatureValid: false, problem: 'wrong format: its header or payload is not a JSON object' };
    }
    const claims = claimsOf(payload);
    const signedAs = tokenKinds.find((kind) => {
      try {
        verifyHs256(token.trim(), this.#keys[kind]);
        return true;
      } catch {
        return false;
      }
    });
    if (signedAs === undefined) {
      const problem = header.alg !== algorithm ? `wrong format: algorithm ${String(header.alg)}, not ${algorithm}` : "bad signature: not signed with this server's key";
      return { ...claims, valid: false, signatureValid: false, problem };
    }
    const now = Math.floor(Date.now() / 1000);
    const result = { ...claims, kind: signedAs, signatureValid: true };
    if (payload.typ !== signedAs) return { ...result, valid: false, problem: `wrong kind: signed with the ${signedAs} key but claims ${String(payload.typ)}` };
    if (typeof payload.exp !== 'number' || typeof payload.sub !== 'string' || payload.iss !== issuer) {
      return { ...result, valid: false, problem: 'wrong format: missing or foreign claims (exp, sub, iss)' };
    }
    if (payload.exp <= now) return { ...result, valid: false, problem: 'expired' };
    if (typeof payload.nbf === 'number' && payload.nbf > now) return { ...result, valid: false, problem: 'not yet valid' };
    if (typeof payload.jti === 'string' && this.#revoked.has(payload.jti)) return { ...result, valid: false, problem: 'revoked' };
    return { ...result, valid: true };
  }

  #verifiedPayload(token: string, kind: TokenKind): Record<string, unknown> {
    const cache = this.#verified[kind];
    let payload = cache.get(token);
    if (payload === undefined) {
      payload = verifyHs256(token, this.#keys[kind]);
      if (cache.size >= verifiedCacheSize) cache.clear();
      cache.set(token, payload);
    }
    return payload;
  }

  /** From now on the token fails verification everywhere, until it would have expired anyway. */
  revoke(claims: Pick<TokenClaims, 'tokenId' | 'expiresAt'>): void {
    this.applyRevocation(claims);
    const shared = { tokenId: claims.tokenId, expiresAt: claims.expiresAt };
    for (const listener of this.#revokeListeners) listener(shared);
  }

  /** Tells the other nodes (core.ts sends revocations over the bus). */
  onRevoke(listener: (claims: Pick<TokenClaims, 'tokenId' | 'expiresAt'>) => void): void {
    this.#revokeListeners.add(listener);
  }

  /** A revocation made here or on another node. */
  applyRevocation(claims: Pick<TokenClaims, 'tokenId' | 'expiresAt'>): void {
    const now = Date.now() / 1000;
    for (const [id, expiresAt] of this.#revoked) if (expiresAt < now) this.#revoked.delete(id);
    if (claims.tokenId !== '') this.#revoked.set(claims.tokenId, claims.expiresAt);
  }
}

export interface TokenExplanation {
  valid: boolean;
  /** Why it is not valid: wrong format, bad signature, wrong kind, expired, not yet valid, revoked. */
  problem?: string;
  /** Whether one of this server's keys signed it; when not, the claims below are unverified. */
  signatureValid: boolean;
  /** The kind whose key signed it, or (unverified) the kind it claims. */
  kind?: string;
  subject?: string;
  username?: string;
  issuedAt?: number; // unix seconds
  expiresAt?: number; // unix seconds
  tokenId?: string;
}

const tokenKinds: readonly TokenKind[] = ['user', 'stream', 'client'];

function claimsOf(payload: Record<string, unknown>): Omit<TokenExplanation, 'valid' | 'signatureValid'> {
  const text = (value: unknown) => (typeof value === 'string' ? value : undefined);
  const seconds = (value: unknown) => (typeof value === 'number' && Number.isFinite(value) ? value : undefined);
  return {
    kind: text(payload.typ),
    subject: text(payload.sub),
    username: text(payload.name),
    issuedAt: seconds(payload.iat),
    expiresAt: seconds(payload.exp),
    tokenId: text(payload.jti),
  };
}

/** Enough for every live connection's token of a busy node; a full cache simply starts over. */
const verifiedCacheSize = 16_384;
const base64url = /^[A-Za-z0-9_-]+$/;

/**
 * The payload of a compact JWS signed HS256 with `key`, or TokenError. Strict: exactly three
 * base64url parts, a header of alg HS256 with no `crit`, a 32-byte signature compared in constant
 * time, and a JSON object payload.
 */
function verifyHs256(token: string, key: Buffer): Record<string, unknown> {
  const parts = token.split('.');
  if (parts.length !== 3 || !parts.every((part) => base64url.test(part))) throw new TokenError('invalid', 'invalid token');
  const [head, body, signature] = parts as [string, string, string];
  const expected = createHmac('sha256', key).update(`${head}.${body}`).digest();
  const actual = Buffer.from(signature, 'base64url');
  if (actual.length !== expected.length || !timingSafeEqual(actual, expected)) throw new TokenError('invalid', 'invalid token');
  // base64url ignores the unused low bits of the last character, so one signature has four
  // spellings; only the canonical one is the token (revocation and caches key on the text).
  if (actual.toString('base64url') !== signature) throw new TokenError('invalid', 'invalid token');
  const header = parseJson(head);
  if (header.alg !== algorithm || 'crit' in header) throw new TokenError('invalid', 'invalid token');
  return parseJson(body);
}

function parseJson(part: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // falls through
  }
  throw new TokenError('invalid', 'invalid token');
}

function deriveKey(master: Uint8Array, kind: TokenKind): Buffer {
  return Buffer.from(hkdfSync('sha256', master, 'flashhub', `flashhub ${kind} token`, 32));
}
