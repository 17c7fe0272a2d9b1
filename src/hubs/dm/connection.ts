// One chat socket after the upgrade: raw text frames in (not JSON, as the seed's melody handler took
// them; binary frames are ignored, as melody's default binary handler did), each a message to the
// user named in the path. Out: message frames (frames.ts). The socket closes when its token expires.
import type { WebSocket } from 'ws';
import type { PublicUser } from '../../core/directory.ts';
import { longerThan } from '../../core/text-length.ts';
import type { Session } from '../../core/session.ts';
import type { DmContext } from './context.ts';
import { messages } from './envelope.ts';
import { errorFrame } from './frames.ts';


/** The error frame's text for a message over message_length; nothing is stored. */
export function messageTooLong(limit: number): string {
  return `message is too long: at most ${limit} characters`;
}

export class DmConnection {
  readonly #ctx: DmContext;
  readonly #session: Session;
  readonly #peer: PublicUser;

  constructor(ctx: DmContext, ws: WebSocket, session: Session, peer: PublicUser, expiresAt: number) {
    this.#ctx = ctx;
    this.#session = session;
    this.#peer = peer;
    ws.on('message', (data, isBinary) => {
      if (!isBinary) this.#onText(data.toString());
    });
    session.expireAt(expiresAt);
  }

  #onText(text: string): void {
    if (text === '') return void this.#session.send(errorFrame(422, 'message is empty'));
    const { messageLength } = this.#ctx.core.config;
    if (longerThan(text, messageLength)) return void this.#session.send(errorFrame(413, messageTooLong(messageLength)));
    if (this.#ctx.removedUsers.has(this.#peer.id)) return void this.#session.send(errorFrame(404, messages.userNotFound));
    this.#ctx.deliveries.post(this.#session, this.#peer.id, text);
  }
}
