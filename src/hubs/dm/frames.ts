// What a chat socket sends (reference/seed-protocols.md §4.3). The seed's frame is
//   {"from":"apm","body":"hello world!","sent_at":1630121139}
// (sent_at in integer UTC unix seconds); flashhub appends "to" (the recipient's username, so a client
// can tell conversations apart on one socket) and "id" (the message's number in its conversation,
// the same number the history route pages by and ?after= resumes from). Old clients ignore both.
import { envelopeText } from './envelope.ts';

export interface MessageFields {
  from: string;
  body: string;
  sent_at: number;
  to: string;
  id: number;
}

/** Key order is the wire order: from, body, sent_at, to, id. */
export function messageFields(from: string, to: string, body: string, sentAtMs: number, id: number): MessageFields {
  return { from, body, sent_at: Math.floor(sentAtMs / 1000), to, id };
}

export function messageFrame(from: string, to: string, body: string, sentAtMs: number, id: number): string {
  return JSON.stringify(messageFields(from, to, body, sentAtMs, id));
}

/**
 * Messages of the chat with `chat` (the other user's username) numbered after < id < before are
 * gone (retention) and cannot be replayed: reported, never skipped silently (DESIGN.md §5).
 */
export function gapFrame(chat: string, after: number, before: number): string {
  return JSON.stringify({ type: 'gap', chat, after, before });
}

/** A problem with what this socket sent; only this socket gets it, and it stays open. */
export function errorFrame(status: number, message: string): string {
  return envelopeText(status, message);
}
