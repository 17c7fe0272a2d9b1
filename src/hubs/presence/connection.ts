// One presence socket speaking the protocol: HELLO binds it to a user, GOODBYE unbinds it, and the
// other requests act for that user. Every request gets one reply on this socket; a bad frame gets an
// error frame and the socket stays open.
import type { RawData, WebSocket } from 'ws';
import type { Core } from '../../core/core.ts';
import { userIdOf } from '../../core/directory.ts';
import { ConnectionLimitError } from '../../core/presence.ts';
import { closeReasons, type Session } from '../../core/session.ts';
import { isUnavailable, unavailableMessage } from '../../store/types.ts';
import type { AccessTokens } from './access-tokens.ts';
import { errorFrame, failureFrame, messageFrame, parseRequest, replyFrame, type PresenceRequest } from './frames.ts';

export interface PresenceHubState {
  core: Core;
  accessTokens: AccessTokens;
  /** Sockets that asked for onlineStatus events. */
  subscribers: Set<Session>;
  /** The online list, as each socket must see it after its HELLO. */
  onlineList(): string;
}

/** The bus channel of sendMessageToUser between nodes. */
export const messagesChannel = 'presence.messages';

export interface UserMessage {
  /** The node that delivered it to its own sockets already. */
  node: string;
  to: number;
  frame: string;
}

/** Writes a frame to every presence socket of the user on this node; returns how many took it. */
export function deliverToUser(core: Core, userId: number, frame: string): number {
  let delivered = 0;
  for (const session of core.presence.sessionsOf(userId)) if (session.hub === 'presence' && session.send(frame)) delivered++;
  return delivered;
}

export class PresenceConnection {
  readonly #hub: PresenceHubState;
  readonly #session: Session;
  #expiry: NodeJS.Timeout | undefined;

  constructor(hub: PresenceHubState, ws: WebSocket, session: Session) {
    this.#hub = hub;
    this.#session = session;
    ws.on('message', (data, isBinary) => void this.#onFrame(data, isBinary));
    session.onClose(() => {
      clearTimeout(this.#expiry);
      hub.subscribers.delete(session);
    });
  }

  async #onFrame(data: RawData, isBinary: boolean): Promise<void> {
    if (isBinary) return void this.#session.send(errorFrame('binary frames are not supported'));
    const parsed = parseRequest(data.toString());
    if (!parsed.ok) return void this.#session.send(errorFrame(parsed.error, parsed.reqId));
    const { request } = parsed;
    if (request.name !== 'HELLO' && request.name !== 'ping' && request.name !== 'hey' && this.#session.userId === undefined) {
      return void this.#session.send(failureFrame(request.name, request.reqId, 'not authenticated'));
    }
    try {
      const reply = await this.#answer(request);
      if (reply !== undefined) this.#session.send(reply);
    } catch (error) {
      if (isUnavailable(error)) return void this.#session.send(failureFrame(request.name, request.reqId, unavailableMessage));
      this.#hub.core.log.error('presence.request_failed', { type: request.name, error });
      this.#session.send(failureFrame(request.name, request.reqId, 'internal error'));
    }
  }

  /** The reply frame, or undefined when the request sent its reply itself. */
  async #answer(request: PresenceRequest): Promise<string | undefined> {
    const { core, subscribers } = this.#hub;
    const { name, reqId, args } = request;
    switch (name) {
      case 'HELLO':
        return this.#hello(request);
      case 'sendMessageToUser': {
        const target = userIdOf(args.id);
        if (!Number.isSafeInteger(target) || target < 1) return failureFrame(name, reqId, 'id must be a user id');
        if (args.message === undefined) return failureFrame(name, reqId, 'message is missing');
        const frame = messageFrame(this.#session.userId!, args.message);
        // This node's sockets at once (and counted); the other nodes' through the bus.
        const delivered = deliverToUser(core, target, frame);
        if (core.presence.isOnline(target)) core.bus.publish(messagesChannel, { node: core.cluster.nodeId, to: target, frame } satisfies UserMessage);
        core.activity.emit({ type: 'message.relayed', hub: 'presence', from: this.#session.userId!, to: target, delivered, time: Date.now() });
        return replyFrame(name, reqId, { delivered });
      }
      case 'subscribeOnlineStatus':
        subscribers.add(this.#session);
        return replyFrame(name, reqId, { users: sortedOnline(core) });
      case 'unsubscribeOnlineStatus':
        subscribers.delete(this.#session);
        return replyFrame(name, reqId);
      case 'GOODBYE':
        this.#unbind();
        return replyFrame(name, reqId);
      case 'getAllOnline':
        return replyFrame(name, reqId, { users: sortedOnline(core) });
      case 'ping':
        return JSON.stringify({ type: 'pong', ...(reqId === undefined ? {} : { reqId }) });
      case 'hey':
        return JSON.stringify({ type: 'yes', ...(reqId === undefined ? {} : { reqId }) });
    }
  }

  async #hello({ name, reqId, args }: PresenceRequest): Promise<string | undefined> {
    const { core, accessTokens } = this.#hub;
    const token = args.accesstoken ?? args.accessToken ?? args.userToken;
    if (typeof token !== 'string' || token === '') return failureFrame(name, reqId, 'missing accesstoken');
    const owner = await accessTokens.ownerOf(token);
    if (!owner) return failureFrame(name, reqId, 'invalid token');
    if (args.userid !== undefined && userIdOf(args.userid) !== owner.userId) return failureFrame(name, reqId, 'userid mismatch');
    if (this.#session.closed) return undefined;
    if (!(await core.presence.hasRoomFor(owner.userId, this.#session))) {
      return failureFrame(name, reqId, new ConnectionLimitError(core.config.connectionsPerUser).message);
    }
    if (this.#session.closed) return undefined;
    // The reply goes first; binding then broadcasts the online list when the user just came online.
    this.#session.send(replyFrame(name, reqId, { userid: owner.userId, user: owner.user }));
    const wasOnline = core.presence.isOnline(owner.userId);
    core.presence.bind(this.#session, owner.userId);
    if (wasOnline) this.#session.send(this.#hub.onlineList());
    this.#expireAt(owner.expiresAt);
    return undefined;
  }

  #unbind(): void {
    clearTimeout(this.#expiry);
    this.#hub.core.presence.unbind(this.#session);
  }

  /** An expired token unbinds the socket, and says so; the client may HELLO again with a fresh one. */
  #expireAt(expiresAt: number | undefined): void {
    clearTimeout(this.#expiry);
    if (expiresAt === undefined) return;
    this.#expiry = setTimeout(() => {
      this.#unbind();
      this.#session.send(JSON.stringify({ type: 'GOODBYE', ok: true, reason: closeReasons.tokenExpired.text }));
    }, expiresAt * 1000 - Date.now());
  }
}

export function sortedOnline(core: Core): number[] {
  return core.presence.onlineUsers().sort((a, b) => a - b);
}
