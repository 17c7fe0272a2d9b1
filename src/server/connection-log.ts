// One log line when a connection (WebSocket or EventSource) opens, one when it closes, with why.
import type { SessionWatcher } from '../core/presence.ts';
import { closeReasonName } from '../core/session.ts';
import type { Logger } from '../log.ts';

export function connectionLog(log: Logger): SessionWatcher {
  return {
    opened(session) {
      log.info('connection.open', {
        hub: session.hub,
        transport: session.transport,
        session: session.id,
        user: session.userId,
        address: session.remoteAddress,
      });
    },
    closed(session, reason) {
      log.info('connection.close', {
        hub: session.hub,
        transport: session.transport,
        session: session.id,
        user: session.userId,
        address: session.remoteAddress,
        reason: closeReasonName(reason),
        code: session.transport === 'ws' ? reason.code : undefined,
        seconds: Math.round((Date.now() - session.openedAt) / 100) / 10,
      });
    },
  };
}
