// The admin operations behind `flashhub token`: mint a user or stream token for an existing user, and
// explain a token. They need the server's Tokens (its signing keys and, for revocations, its memory),
// so they run in the server when one owns the data directory; the keys themselves never leave it.
import { options, type ConfigKey } from '../config.ts';
import type { Directory } from '../core/directory.ts';
import { DirectoryError } from '../core/directory.ts';
import type { Tokens } from '../core/tokens.ts';
import type { AdminArgs, AdminOperations } from './operations.ts';

/** The kinds a person may mint; client tokens come from client credentials (POST /notify/api/token). */
const mintable = { user: 'userTokenTtl', stream: 'streamTokenTtl' } as const satisfies Record<string, ConfigKey>;
type MintableKind = keyof typeof mintable;

export interface IssuedToken {
  token: string;
  kind: MintableKind;
  expiresAt: string; // ISO 8601
}

export interface TokenReport {
  valid: boolean;
  problem?: string;
  signatureValid: boolean;
  kind?: string;
  subject?: string;
  /** The user a user or stream token names, when it still exists. */
  user?: { id: number; username: string };
  username?: string;
  issuedAt?: string; // ISO 8601
  expiresAt?: string; // ISO 8601
  tokenId?: string;
}

/** The bounds of the configuration's TTL option of that kind (user_token_ttl, stream_token_ttl). */
export function ttlBounds(kind: MintableKind): { min: number; max: number } {
  const spec = options.find((option) => option.key === mintable[kind])!;
  return { min: spec.min!, max: spec.max! };
}

export function tokenOperations(directory: Directory, tokens: Tokens | undefined): AdminOperations {
  const need = (): Tokens => {
    if (!tokens) throw new DirectoryError('invalid', 'token operations are not available here');
    return tokens;
  };
  return {
    'token.issue': async (a: AdminArgs): Promise<IssuedToken> => {
      const signer = need();
      const kind = a.kind === undefined ? 'user' : a.kind;
      if (kind !== 'user' && kind !== 'stream') throw new DirectoryError('invalid', `a minted token is of kind user or stream, not ${String(kind)}`, 'kind');
      const { min, max } = ttlBounds(kind);
      const ttl = a.ttl === undefined || a.ttl === null ? signer.lifetime(kind) : a.ttl;
      if (typeof ttl !== 'number' || !Number.isSafeInteger(ttl) || ttl < min || ttl > max) {
        throw new DirectoryError('invalid', `the ttl of a ${kind} token is a whole number of seconds from ${min} to ${max}`, 'ttl');
      }
      if (typeof a.username !== 'string') throw new DirectoryError('invalid', 'expected a username', 'username');
      const user = await directory.findUser(a.username);
      if (!user) throw new DirectoryError('not_found', `no user ${a.username}`, 'username');
      // As the hubs issue them: user tokens carry dm's `email` claim.
      const extra: Record<string, string> = kind === 'user' ? { email: user.username } : {};
      const token = await signer.issue(kind, String(user.id), user.username, extra, ttl);
      const expiresAt = (signer.explain(token).expiresAt ?? 0) * 1000;
      return { token, kind, expiresAt: iso(expiresAt / 1000) };
    },
    'token.verify': async (a: AdminArgs): Promise<TokenReport> => {
      if (typeof a.token !== 'string') throw new DirectoryError('invalid', 'expected a token', 'token');
      const explained = need().explain(a.token);
      const report: TokenReport = {
        ...explained,
        issuedAt: explained.issuedAt === undefined ? undefined : iso(explained.issuedAt),
        expiresAt: explained.expiresAt === undefined ? undefined : iso(explained.expiresAt),
      };
      const userId = Number(explained.subject);
      // Only a signed subject is looked up: a forged one names nobody.
      if (explained.signatureValid && (explained.kind === 'user' || explained.kind === 'stream') && explained.subject !== undefined && Number.isSafeInteger(userId) && userId > 0) {
        const user = await directory.getUser(userId);
        if (user) report.user = { id: user.id, username: user.username };
        else if (report.valid) Object.assign(report, { valid: false, problem: `its user (id ${userId}) no longer exists` });
      }
      return report;
    },
  };
}

/** Unix seconds as ISO 8601 without milliseconds, as the CLI prints times. */
function iso(seconds: number): string {
  return new Date(seconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}
