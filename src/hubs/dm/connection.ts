// One chat socket after the upgrade: raw text frames in (not JSON, as the seed's melody handler took
// them; binary frames are ignored, as melody's default binary handler did), each a message to the
// user named in the path. Out: message frames (frames.ts). The socket closes when its token expires.
import type { WebSocket } from 'ws';
import type { PublicUser } from '../../core/directory.ts';
import { longerThan } from '../../core/text-length.ts';
import { closeReasons, type Session } from '../../core/session.ts';
import type { DmContext } from './context.ts';
import { messages } from './envelope.ts';
import { errorFrame } from './frames.ts';

const longestTimer = 2 ** 31 - 1;

/** The error frame's text for a message over message_length; nothing is stored. */
export function messageTooLong(limit: number): string {
  return `message is too long: at most ${limit} characters`;
}

export class DmConnection {
  readonly #ctx: DmContext;
  readonly #session: Session;
  readonly #peer: PublicUser;
  #expiry: NodeJS.Timeout | undefined;

  constructor(ctx: DmContext, ws: WebSocket, session: Session, peer: PublicUser, expiresAt: number) {
    this.#ctx = ctx;
    this.#session = session;
    this.#peer = peer;
    ws.on('message', (data, isBinary) => {
      if (!isBinary) this.#onText(data.toString());
    });
    this.#closeAt(expiresAt);
    session.onClose(() => clearTimeout(this.#expiry));
  }

  #onText(text: string): void {
    if (text === '') return void this.#session.send(errorFrame(422, 'message is empty'));
    const { messageLength } = this.#ctx.core.config;
    if (longerThan(text, messageLength)) return void this.#session.send(errorFrame(413, messageTooLong(messageLength)));
    if (this.#ctx.removedUsers.has(this.#peer.id)) return void this.#session.send(errorFrame(404, messages.userNotFound));
    this.#ctx.deliveries.post(this.#session, this.#peer.id, text);
  }

  /** Closes with "token expired" when the token does; timers longer than ~24.8 days are re-armed. */
  #closeAt(expiresAt: number): void {
    const left = expiresAt * 1000 - Date.now();
    if (left <= 0) return this.#session.close(closeReasons.tokenExpired);
    this.#expiry = setTimeout(() => this.#closeAt(expiresAt), Math.min(left, longestTimer)).unref();
  }
}
