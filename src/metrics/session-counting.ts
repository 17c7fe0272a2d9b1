// Points each session's counts at its hub's, and counts connections opened and closed by reason.
import type { SessionWatcher } from '../core/presence.ts';
import { closeReasonName } from '../core/session.ts';
import type { Counters } from '../core/counters.ts';

export function sessionCounting(counters: Counters): SessionWatcher {
  return {
    opened(session) {
      session.traffic = counters.hub(session.hub);
      session.traffic.opened[session.transport]++;
    },
    closed(session, reason) {
      const closed = session.traffic.closed;
      const name = closeReasonName(reason);
      closed.set(name, (closed.get(name) ?? 0) + 1);
    },
  };
}
