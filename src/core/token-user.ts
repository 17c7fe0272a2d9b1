// The user a user token belongs to, for every place that accepts one.
import type { Directory, PublicUser } from './directory.ts';
import { TokenError, type TokenClaims, type Tokens } from './tokens.ts';

/** Undefined for a token that is invalid, expired, revoked, or whose user is gone. */
export async function tokenUser(tokens: Tokens, directory: Directory, token: string): Promise<{ user: PublicUser; claims: TokenClaims } | undefined> {
  let claims: TokenClaims;
  try {
    claims = await tokens.verify(token, 'user');
  } catch (error) {
    if (error instanceof TokenError) return undefined;
    throw error;
  }
  const user = await directory.getUser(Number(claims.subject));
  return user && { user, claims };
}
