// Hub chat (seed 002, the Redis chat demo): username login, General room "0" and private rooms
// "a:b", paged history, online users, and the events on an EventSource and a WebSocket.
import { Hono } from 'hono';
import { addressLimitsOf } from '../../core/address-limits.ts';
import type { Core } from '../../core/core.ts';
import { isUnavailable, unavailableMessage } from '../../store/types.ts';
import { WebSocketEndpoint } from '../../transports/websocket.ts';
import type { Hub } from '../hub.ts';
import type { ChatContext, ChatEnv } from './context.ts';
import { chatError } from './errors.ts';
import { ChatEvents } from './events.ts';
import { LoginSessions } from './login-session.ts';
import { loginRoutes } from './routes/login.ts';
import { roomRoutes } from './routes/rooms.ts';
import { streamRoutes } from './routes/stream.ts';
import { userRoutes } from './routes/users.ts';
import { chatSocketHandler } from './socket.ts';

export function createChatHub(core: Core): Hub {
  const ctx: ChatContext = {
    core,
    events: new ChatEvents(core),
    sessions: new LoginSessions(core),
    loginAttempts: core.loginAttempts('password-login'),
  };
  // user.connected / user.disconnected follow the core presence: online on any hub, once per user.
  // The chat bus reaches every node, so only the node where the change happened publishes it.
  const stopPresence = core.presence.onChange((userId, online, cause) => {
    if (cause !== 'local') return;
    core.directory.getUser(userId).then(
      (user) => {
        if (user) ctx.events.publish(online ? 'user.connected' : 'user.disconnected', { id: String(user.id), username: user.username, online }, 'all');
      },
      // Without the store (Redis down) the event is lost; /users/online still tells the truth.
      (error: unknown) => core.log.warn('chat.presence_event_failed', { userId, error }),
    );
  });
  const endpoint = new WebSocketEndpoint({
    hub: 'chat',
    frameLimit: core.config.frameLimit,
    maxBufferedBytes: core.config.sendQueueBytes,
    heartbeatSeconds: core.config.wsHeartbeat,
    origins: core.config.origins,
    messagesPerSecond: core.config.messagesPerSecond,
    addresses: addressLimitsOf(core),
    // Seed 002's shape, {"message": "..."}, as a sentence.
    errorBody: (_status, message) => JSON.stringify({ message: message.charAt(0).toUpperCase() + message.slice(1) }),
  });
  const routes = new Hono<ChatEnv>();
  routes.onError((error, c) => {
    if (isUnavailable(error)) return chatError(c, 503, unavailableMessage);
    throw error;
  });
  loginRoutes(routes, ctx);
  userRoutes(routes, ctx);
  roomRoutes(routes, ctx);
  streamRoutes(routes, ctx);
  const handleSocket = chatSocketHandler(ctx, endpoint);
  return {
    name: 'chat',
    errorBody: (_status, message) => ({ message }),
    app: routes,
    legacyApp: routes,
    upgrades: [{ matches: (path) => path === '/chat/ws', legacy: false, handle: handleSocket }],
    close: async () => {
      stopPresence();
      ctx.events.close();
      endpoint.close();
    },
  };
}
