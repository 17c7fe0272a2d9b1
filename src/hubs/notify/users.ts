// Seed 000's user_id is the directory's username. Notifying or adding someone who does not exist yet
// creates them (without a password), so what is sent to them waits until they first connect; the
// original lost those messages.
import { checkUsername, DirectoryError, type PublicUser } from '../../core/directory.ts';
import type { Core } from '../../core/core.ts';
import { FieldError } from './errors.ts';

/**
 * Finds or creates every user of a list, after checking them all: a refused request must not have
 * created some of them already.
 */
export async function ensureUsers(core: Core, usernames: unknown[], field: string): Promise<PublicUser[]> {
  for (const username of usernames) {
    if (typeof username !== 'string') throw new FieldError(field, 'User id must be a string');
    try {
      checkUsername(username);
    } catch (error) {
      if (error instanceof DirectoryError) throw new FieldError(field, error.message);
      throw error;
    }
  }
  const users: PublicUser[] = [];
  for (const username of usernames) users.push(await ensureUser(core, username, field));
  return users;
}

export async function ensureUser(core: Core, username: unknown, field = 'user_id'): Promise<PublicUser> {
  if (typeof username !== 'string') throw new FieldError(field, 'User id must be a string');
  const existing = await core.directory.findUser(username);
  if (existing) return existing;
  try {
    return await core.directory.addUser({ username });
  } catch (error) {
    if (error instanceof DirectoryError && error.code === 'exists') {
      const raced = await core.directory.findUser(username);
      if (raced) return raced;
    }
    if (error instanceof DirectoryError) throw new FieldError(field, error.message);
    throw error;
  }
}

/** Reads ?page=&page_size= (1-based pages of at most 500). */
export function paging(query: (name: string) => string | undefined): { page: number; pageSize: number } {
  const page = Number(query('page') ?? 1);
  const pageSize = Number(query('page_size') ?? 50);
  if (!Number.isSafeInteger(page) || page < 1) throw new FieldError('page', 'page must be a whole number from 1');
  if (!Number.isSafeInteger(pageSize) || pageSize < 1 || pageSize > 500) {
    throw new FieldError('page_size', 'page_size must be a whole number from 1 to 500');
  }
  return { page, pageSize };
}
