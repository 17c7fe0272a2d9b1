// Which user an access token belongs to. A flashhub user token is checked locally. With
// presence_auth_url set, other tokens are checked as seed 001's production did: GET <url> with the
// Bearer token; 200 means valid and the JSON (or its "data") carries the user id. Answers are cached
// briefly, and no answer within the timeout means an invalid token, never a hung HELLO.
import { createHash } from 'node:crypto';
import type { Core } from '../../core/core.ts';
import { tokenUser } from '../../core/token-user.ts';
import { redactUrl } from '../../log.ts';
import { vvUser } from './vv-user.ts';

export interface TokenOwner {
  userId: number;
  /** Unix seconds, when known: the socket is unbound then. */
  expiresAt?: number;
  /** The user object to echo in the HELLO reply. */
  user: unknown;
}

const validFor = 30_000;
const invalidFor = 5_000;
const maxCached = 10_000;

export class AccessTokens {
  readonly #core: Core;
  readonly #cache = new Map<string, { owner: TokenOwner | undefined; until: number }>();

  constructor(core: Core) {
    this.#core = core;
  }

  async ownerOf(token: string): Promise<TokenOwner | undefined> {
    const local = await this.#local(token);
    if (local || this.#core.config.presenceAuthUrl === '') return local;
    return this.#external(token);
  }

  async #local(token: string): Promise<TokenOwner | undefined> {
    const found = await tokenUser(this.#core.tokens, this.#core.directory, token);
    return found && { userId: found.user.id, expiresAt: found.claims.expiresAt, user: vvUser(found.user) };
  }

  async #external(token: string): Promise<TokenOwner | undefined> {
    const key = createHash('sha256').update(token).digest('base64url');
    const cached = this.#cache.get(key);
    if (cached && cached.until > Date.now()) return cached.owner;
    const owner = await this.#ask(token);
    if (owner === 'unreachable') return undefined;
    if (this.#cache.size >= maxCached) this.#cache.clear();
    this.#cache.set(key, { owner, until: Date.now() + (owner ? validFor : invalidFor) });
    return owner;
  }

  async #ask(token: string): Promise<TokenOwner | undefined | 'unreachable'> {
    const { presenceAuthUrl, presenceAuthTimeout } = this.#core.config;
    let response: Response;
    try {
      response = await fetch(presenceAuthUrl, {
        headers: { authorization: `Bearer ${token}`, accept: 'application/json' },
        signal: AbortSignal.timeout(presenceAuthTimeout * 1000),
      });
    } catch (error) {
      this.#core.log.warn('presence.auth_url_unreachable', { url: redactUrl(presenceAuthUrl), error: (error as Error).name });
      return 'unreachable';
    }
    if (response.status !== 200) {
      await response.body?.cancel();
      return undefined;
    }
    const body = (await response.json().catch(() => undefined)) as Record<string, unknown> | undefined;
    const user = (typeof body?.data === 'object' && body.data !== null ? body.data : body) as Record<string, unknown> | undefined;
    const id = Number(user?.id);
    return Number.isSafeInteger(id) && id > 0 ? { userId: id, user } : undefined;
  }
}
