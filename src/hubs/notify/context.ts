// What every notify route needs.
import type { HttpBindings } from '@hono/node-server';
import type { Core } from '../../core/core.ts';
import type { AttemptLimiter } from '../../core/rate-limiter.ts';
import type { Deliveries } from './deliveries.ts';

export interface NotifyContext {
  core: Core;
  deliveries: Deliveries;
  tokenAttempts: AttemptLimiter;
}

/** The authenticated caller of an API route: an API client, or a user through their stream token. */
export type Caller = { kind: 'client'; clientId: string } | { kind: 'user'; userId: number };

export type NotifyEnv = { Bindings: HttpBindings; Variables: { caller: Caller } };
