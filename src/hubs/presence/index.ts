// Hub presence (seed 001): a WebSocket protocol for who is online, messages to all sockets of a user,
// and online-status subscriptions. Online means a live authenticated connection on any hub.
import { Hono } from 'hono';
import { addressLimitsOf } from '../../core/address-limits.ts';
import type { Core } from '../../core/core.ts';
import { SharedFrame, type Session } from '../../core/session.ts';
import { WebSocketEndpoint } from '../../transports/websocket.ts';
import type { Hub } from '../hub.ts';
import { AccessTokens } from './access-tokens.ts';
import { deliverToUser, messagesChannel, PresenceConnection, sortedOnline, type PresenceHubState, type UserMessage } from './connection.ts';
import { onlineFrame, onlineStatusFrame } from './frames.ts';
import { identityRoutes } from './routes/identity.ts';
import { onlineRoute } from './routes/online.ts';

export function createPresenceHub(core: Core): Hub {
  const sockets = new Set<Session>();
  const state: PresenceHubState = {
    core,
    accessTokens: new AccessTokens(core),
    subscribers: new Set(),
    onlineList: () => onlineFrame(sortedOnline(core)),
  };
  const endpoint = new WebSocketEndpoint({
    hub: 'presence',
    frameLimit: core.config.frameLimit,
    maxBufferedBytes: core.config.sendQueueBytes,
    heartbeatSeconds: core.config.wsHeartbeat,
    origins: core.config.origins,
    messagesPerSecond: core.config.messagesPerSecond,
    addresses: addressLimitsOf(core),
    // Seed 001 refused over HTTP with {"error": "..."} (as its identity routes do here).
    errorBody: (_status, message) => JSON.stringify({ error: message }),
  });
  // The brief: on every online/offline change, every socket gets the list of online ids. Sockets that
  // have not said HELLO get nothing (the original leaked the list to unauthenticated sockets).
  const stopListening = core.presence.onChange((userId, online) => {
    const list = new SharedFrame(state.onlineList());
    for (const session of sockets) if (session.userId !== undefined) session.send(list);
    const status = new SharedFrame(onlineStatusFrame(userId, online));
    for (const session of state.subscribers) if (session.userId !== undefined) session.send(status);
  });

  const stopMessages = core.bus.subscribe(messagesChannel, (payload) => {
    const message = payload as UserMessage;
    if (message.node !== core.cluster.nodeId) deliverToUser(core, message.to, message.frame);
  });

  const handle = (request: Parameters<WebSocketEndpoint['accept']>[0], socket: Parameters<WebSocketEndpoint['accept']>[1], head: Buffer) =>
    endpoint.accept(request, socket, head, (ws, session) => {
      core.presence.attach(session);
      sockets.add(session);
      session.onClose(() => sockets.delete(session));
      new PresenceConnection(state, ws, session);
    });

  const loginAttempts = core.loginAttempts('password-login');
  const app = new Hono();
  identityRoutes(app, core, loginAttempts);
  onlineRoute(app, core);
  const legacyApp = new Hono();
  identityRoutes(legacyApp, core, loginAttempts);

  return {
    name: 'presence',
    app,
    legacyApp,
    upgrades: [
      { matches: (path) => path === '/presence/ws', legacy: false, handle },
      { matches: (path) => path === '/ws/presence' || path === '/presence', legacy: true, handle },
    ],
    close: async () => {
      stopListening();
      stopMessages();
      endpoint.close();
    },
  };
}
