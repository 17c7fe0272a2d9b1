// WebSocket /chat/ws: the same events as /stream, as {"type","data","id"} text frames, and in:
//   {"type":"room.join","data":"1:2"}                      checks that the user may be in that room
//   {"type":"message","data":{"roomId":"0","message":".."}} posts as the logged-in user
// Errors come back as {"type":"error","data":{"message"}}; the socket stays open.
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { ConnectionLimitError } from '../../core/presence.ts';
import { closeReasons, type Session } from '../../core/session.ts';
import { isUnavailable, unavailableMessage } from '../../store/types.ts';
import { deeperThan, maxJsonDepth } from '../../transports/json-depth.ts';
import { refuseUpgrade } from '../../transports/refuse-upgrade.ts';
import { upgradeSessionToken } from '../../transports/session-cookie.ts';
import type { WebSocketEndpoint } from '../../transports/websocket.ts';
import type { ChatContext } from './context.ts';
import { followEvents } from './listener.ts';
import { postMessage } from './posting.ts';
import { longerThan } from '../../core/text-length.ts';
import { canAccess, parseRoomId, roomIdTooLong } from './rooms.ts';

/** The upgrade handler; a failure (e.g. the store is unreachable) refuses the upgrade, never the process. */
export function chatSocketHandler(ctx: ChatContext, endpoint: WebSocketEndpoint) {
  const open = openSocket(ctx, endpoint);
  return (request: IncomingMessage, socket: Duplex, head: Buffer): void => {
    open(request, socket, head).catch((error: unknown) => {
      if (isUnavailable(error)) return refuseUpgrade(socket, 503, JSON.stringify({ message: unavailableMessage }));
      ctx.core.log.error('chat.upgrade_failed', { error });
      refuseUpgrade(socket, 500, JSON.stringify({ message: 'Internal Server Error' }));
    });
  };
}

function openSocket(ctx: ChatContext, endpoint: WebSocketEndpoint) {
  return async (request: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> => {
    const url = new URL(request.url ?? '/', 'http://localhost');
    const token = upgradeSessionToken(request);
    const login = token === undefined ? undefined : await ctx.sessions.fromToken(token);
    if (!login) return refuseUpgrade(socket, 401, JSON.stringify({ message: 'Not logged in' }));
    if (!(await ctx.core.presence.hasRoomFor(login.user.id))) {
      return refuseUpgrade(socket, 429, JSON.stringify({ message: 'Too many connections for this user' }));
    }
    endpoint.accept(request, socket, head, (ws, session) => {
      session.expireAt(login.expiresAt);
      ctx.core.presence.attach(session);
      try {
        ctx.core.presence.bind(session, login.user.id);
      } catch (error) {
        // Another connection of the user got in between the check above and now.
        if (!(error instanceof ConnectionLimitError)) throw error;
        return session.close(closeReasons.tooManyConnections);
      }
      followEvents(ctx.core, ctx.events, session, url.searchParams.get('lastEventId') ?? undefined, (event) => event.wsFrame, (json) => json);
      ws.on('message', (data, isBinary) => {
        onFrame(ctx, session, isBinary ? undefined : data.toString()).catch((error: unknown) => {
          if (!isUnavailable(error)) ctx.core.log.error('chat.frame_failed', { error });
          session.send(JSON.stringify({ type: 'error', data: { message: isUnavailable(error) ? unavailableMessage : 'Internal Server Error' } }));
        });
      });
    });
  };
}

async function onFrame(ctx: ChatContext, session: Session, text: string | undefined): Promise<void> {
  const fail = (message: string) => session.send(JSON.stringify({ type: 'error', data: { message } }));
  if (text === undefined) return void fail('binary frames are not supported');
  let frame: { type?: unknown; data?: unknown };
  try {
    frame = JSON.parse(text);
  } catch {
    return void fail('invalid JSON');
  }
  if (typeof frame !== 'object' || frame === null) return void fail('a frame is {"type","data"}');
  if (deeperThan(frame)) return void fail(`JSON nested deeper than ${maxJsonDepth} levels`);
  if (frame.type === 'room.join') {
    const { roomNameLength } = ctx.core.config;
    if (typeof frame.data === 'string' && longerThan(frame.data, roomNameLength)) return void fail(roomIdTooLong(roomNameLength));
    const room = typeof frame.data === 'string' ? parseRoomId(frame.data) : undefined;
    if (!room) return void fail('Invalid room id');
    if (!canAccess(room, session.userId!)) return void fail('Not a member of this room');
    return;
  }
  if (frame.type === 'message') {
    const data = (typeof frame.data === 'object' && frame.data !== null ? frame.data : {}) as Record<string, unknown>;
    // Room ids are text; numbers are accepted as the seed's clients send "0" or 0.
    const roomId = typeof data.roomId === 'string' ? data.roomId : typeof data.roomId === 'number' ? String(data.roomId) : '';
    const result = await postMessage(ctx, session.userId!, roomId, data.message);
    if (!result.ok) fail(result.error);
    return;
  }
  fail('unknown type');
}
