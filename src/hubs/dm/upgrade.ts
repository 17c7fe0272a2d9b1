// GET /chats/:username (and /dm/chats/:username) as a WebSocket. Everything is checked before the
// upgrade and refused as a plain HTTP answer with the seed's envelope: the Origin (403), the caller's
// token from the Authorization header or, for browsers that cannot set one, ?token= / ?access_token=
// (401 with the seed's texts), the peer (404: the seed did not check, flashhub does), ?after= (400),
// and the per-user connection limit (429).
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';
import type { PublicUser } from '../../core/directory.ts';
import { ConnectionLimitError } from '../../core/presence.ts';
import { closeReasons, type Session } from '../../core/session.ts';
import { refuseUpgrade } from '../../transports/refuse-upgrade.ts';
import { handshakeProblem, originAllowed, type WebSocketEndpoint } from '../../transports/websocket.ts';
import { isUnavailable } from '../../store/types.ts';
import type { UpgradeRoute } from '../hub.ts';
import { identify, isFailure, tokenFromAuthorization, type Identity } from './auth.ts';
import { DmConnection } from './connection.ts';
import type { DmContext } from './context.ts';
import { roomOf } from './conversation.ts';
import { internalError, type Resume } from './deliveries.ts';
import { envelopeText, messages } from './envelope.ts';
import { parseSeq } from './params.ts';

/** The :username segment of /<prefix>/<username>, still percent-encoded; undefined for other paths. */
export function chatSegment(pathname: string, prefix: string): string | undefined {
  if (!pathname.startsWith(prefix)) return undefined;
  const segment = pathname.slice(prefix.length);
  return segment !== '' && !segment.includes('/') ? segment : undefined;
}

export function chatUpgradeRoute(ctx: DmContext, endpoint: WebSocketEndpoint, prefix: string, legacy: boolean): UpgradeRoute {
  return {
    matches: (pathname) => chatSegment(pathname, prefix) !== undefined,
    legacy,
    handle: (request, socket, head) => {
      open(ctx, endpoint, prefix, request, socket, head).catch((error: unknown) => {
        if (isUnavailable(error)) return refuse(socket, 503, messages.unavailable);
        ctx.core.log.error('dm.upgrade_failed', { error });
        refuse(socket, 500, messages.internal);
      });
    },
  };
}

function refuse(socket: Duplex, status: number, message: string): void {
  if (!socket.destroyed) refuseUpgrade(socket, status, envelopeText(status, message));
}

async function open(ctx: DmContext, endpoint: WebSocketEndpoint, prefix: string, request: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
  const { core } = ctx;
  const url = new URL(request.url ?? '/', 'http://localhost');
  if (!originAllowed(request, core.config.origins)) return refuse(socket, 403, 'origin not allowed');
  const token = tokenFromAuthorization(request.headers.authorization) ?? url.searchParams.get('token') ?? url.searchParams.get('access_token') ?? undefined;
  const identity = await identify(core, token);
  if (isFailure(identity)) return refuse(socket, identity.status, identity.message);

  let peerName: string;
  try {
    peerName = decodeURIComponent(chatSegment(url.pathname, prefix) ?? '');
  } catch {
    return refuse(socket, 404, messages.userNotFound);
  }
  const peer = await core.directory.findUser(peerName);
  if (!peer) return refuse(socket, 404, messages.userNotFound);

  let resume: Resume | undefined;
  const after = url.searchParams.get('after');
  if (after !== null) {
    const seq = parseSeq(after, 0);
    if (seq === undefined) return refuse(socket, 400, 'after must be a whole number, the id of the last message seen');
    resume = { room: roomOf(identity.user.id, peer.id), after: seq };
  }
  if (!(await core.presence.hasRoomFor(identity.user.id))) {
    return refuse(socket, 429, closeReasons.tooManyConnections.text);
  }
  if (socket.destroyed) return;
  const problem = handshakeProblem(request);
  if (problem !== undefined) return refuse(socket, 400, problem);
  endpoint.accept(request, socket, head, (ws, session) => opened(ctx, ws, session, identity, peer, resume));
}

function opened(ctx: DmContext, ws: WebSocket, session: Session, identity: Identity, peer: PublicUser, resume: Resume | undefined): void {
  const { core } = ctx;
  const { user } = identity;
  core.presence.attach(session);
  try {
    core.presence.bind(session, user.id);
  } catch (error) {
    if (!(error instanceof ConnectionLimitError)) throw error;
    return session.close(closeReasons.tooManyConnections);
  }
  ctx.conversations.rememberUsername(user.id, user.username);
  ctx.conversations.rememberUsername(peer.id, peer.username);
  core.log.info('dm.connected', { userId: user.id, peer: peer.username, remote: session.remoteAddress, resume: resume?.after });
  session.onClose((reason) => core.log.info('dm.disconnected', { userId: user.id, peer: peer.username, reason: reason.text }));
  new DmConnection(ctx, ws, session, peer, identity.expiresAt);
  ctx.deliveries.attach(session, user.id, () => ws.bufferedAmount, resume).catch((error: unknown) => {
    if (isUnavailable(error)) return session.close(closeReasons.tryAgainLater);
    core.log.error('dm.replay_failed', { userId: user.id, error });
    session.close(internalError);
  });
}
