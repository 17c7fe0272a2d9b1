// What every dm route and socket needs.
import type { HttpBindings } from '@hono/node-server';
import type { Core } from '../../core/core.ts';
import type { PublicUser } from '../../core/directory.ts';
import type { AttemptLimiter } from '../../core/rate-limiter.ts';
import type { Conversations } from './conversation.ts';
import type { Cursors } from './cursors.ts';
import type { Deliveries } from './deliveries.ts';

export interface DmContext {
  core: Core;
  conversations: Conversations;
  cursors: Cursors;
  deliveries: Deliveries;
  loginAttempts: AttemptLimiter;
  /** Users removed while the server runs: a socket open to one of them can no longer send. */
  removedUsers: Set<number>;
}

export type DmEnv = { Bindings: HttpBindings; Variables: { user: PublicUser } };
