// The wire format of seed 002 (the Redis chat demo): events are {"type","data"}, on the EventSource
// as `data:` lines (here with an `id:` so browsers can resume), on the WebSocket as text frames.
// Messages are {"from","date","message","roomId"} plus their "id" in the room.
import type { StoredMessage } from '../../store/types.ts';

export type ChatEventType = 'user.connected' | 'user.disconnected' | 'show.room' | 'message' | 'stream.gap';

export interface ChatMessage {
  id: number;
  from: number;
  /** Unix seconds, as the demo's clients expect. */
  date: number;
  message: string;
  roomId: string;
}

export function messageView(stored: StoredMessage): ChatMessage {
  return { id: stored.seq, from: stored.from, date: Math.floor(stored.ts / 1000), message: stored.text ?? '', roomId: stored.room };
}

export function eventJson(type: ChatEventType, data: unknown): string {
  return JSON.stringify({ type, data });
}

/** The event id is from the server, never from user input, so it cannot carry a line break. */
export function sseEventFrame(id: string, json: string): string {
  return `id: ${id}\ndata: ${json}\n\n`;
}

// The demo escaped messages before storing them (LendAHand: & " ' < > with ' as &#x27;), and its
// clients render the text as HTML; stored text is therefore escaped.
const entities: Record<string, string> = { '&': '&amp;', '"': '&quot;', "'": '&#x27;', '<': '&lt;', '>': '&gt;' };

export function escapeHtml(text: string): string {
  return text.replace(/[&"'<>]/g, (c) => entities[c]!);
}
