// Typed, short-lived JWTs (jose, HS256). Each kind has its own key, so a token of one kind can never
// verify as another even where a check forgets to look at the kind:
// - user tokens are signed with the master secret itself, so a service that shares JWT_KEY (as in
//   seed 004) can verify them;
// - client and stream tokens with keys derived from it (HKDF).
// Keys are imported once (reference/performance.md: per-call imports halve connect rates).
import { createSecretKey, hkdfSync, randomUUID, type KeyObject } from 'node:crypto';
import { SignJWT, jwtVerify, errors } from 'jose';

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
  readonly #keys: Record<TokenKind, KeyObject>;
  readonly #lifetimes: TokenLifetimes;
  /** jti → expiry (unix seconds) of tokens revoked before they expired (e.g. by a logout). */
  readonly #revoked = new Map<string, number>();

  constructor(masterSecret: Uint8Array, lifetimes: TokenLifetimes) {
    this.#keys = {
      user: createSecretKey(masterSecret),
      client: createSecretKey(deriveKey(masterSecret, 'client')),
      stream: createSecretKey(deriveKey(masterSecret, 'stream')),
    };
    this.#lifetimes = lifetimes;
  }

  lifetime(kind: TokenKind): number {
    return this.#lifetimes[kind];
  }

  /** `extra` carries compatibility claims a seed's clients read (e.g. dm's `email`). */
  async issue(kind: TokenKind, subject: string, username?: string, extra: Record<string, string> = {}): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ ...extra, typ: kind, ...(username === undefined ? {} : { name: username }) })
      .setProtectedHeader({ alg: algorithm, typ: 'JWT' })
      .setIssuer(issuer)
      .setSubject(subject)
      .setIssuedAt(now)
      .setExpirationTime(now + this.#lifetimes[kind])
      .setJti(randomUUID())
      .sign(this.#keys[kind]);
  }

  /** Accepts only a token of the given kind; throws TokenError otherwise. */
  async verify(token: string, kind: TokenKind): Promise<TokenClaims> {
    let payload;
    try {
      ({ payload } = await jwtVerify(token, this.#keys[kind], { algorithms: [algorithm], issuer, requiredClaims: ['exp', 'sub'] }));
    } catch (error) {
      if (error instanceof errors.JWTExpired) throw new TokenError('expired', 'token expired');
      throw new TokenError('invalid', 'invalid token');
    }
    if (payload.typ !== kind) throw new TokenError('wrong-kind', `not a ${kind} token`);
    if (typeof payload.jti === 'string' && this.#revoked.has(payload.jti)) throw new TokenError('invalid', 'token revoked');
    return {
      kind,
      subject: payload.sub as string,
      username: typeof payload.name === 'string' ? payload.name : undefined,
      expiresAt: payload.exp as number,
      tokenId: typeof payload.jti === 'string' ? payload.jti : '',
    };
  }

  /** From now on the token fails verification everywhere, until it would have expired anyway. */
  revoke(claims: Pick<TokenClaims, 'tokenId' | 'expiresAt'>): void {
    const now = Date.now() / 1000;
    for (const [id, expiresAt] of this.#revoked) if (expiresAt < now) this.#revoked.delete(id);
    if (claims.tokenId !== '') this.#revoked.set(claims.tokenId, claims.expiresAt);
  }
}

function deriveKey(master: Uint8Array, kind: TokenKind): Buffer {
  return Buffer.from(hkdfSync('sha256', master, 'flashhub', `flashhub ${kind} token`, 32));
}
