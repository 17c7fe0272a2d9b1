// What every chat route needs.
import type { HttpBindings } from '@hono/node-server';
import type { Core } from '../../core/core.ts';
import type { AttemptLimiter } from '../../core/rate-limiter.ts';
import type { ChatEvents } from './events.ts';
import type { LoginSessions } from './login-session.ts';

export interface ChatContext {
  core: Core;
  events: ChatEvents;
  sessions: LoginSessions;
  loginAttempts: AttemptLimiter;
}

export type ChatEnv = { Bindings: HttpBindings };
