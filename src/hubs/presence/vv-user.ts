// The user object of seed 001's identity API (`{"data": {...}}` from GET /users/me), made from a
// directory user: clients of the seed read id, firstName, lastName and avatar.small.
import type { PublicUser } from '../../core/directory.ts';

export interface VvUser {
  id: number;
  email: string;
  firstName: string;
  lastName: string;
  avatar: { small: null };
}

export function vvUser(user: PublicUser): VvUser {
  const [firstName = '', ...rest] = user.name.split(' ');
  return { id: user.id, email: user.username, firstName, lastName: rest.join(' '), avatar: { small: null } };
}
