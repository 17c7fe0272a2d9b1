// The admin wire format: one JSON request line, one JSON answer line, then the server closes.
//
// A streaming operation (one that returns an AdminStream, e.g. store.export) answers instead with
// the line `{"ok":true,"stream":true}`, then frames, one a line: `{"data":"..."}` as many as it
// takes, and last `{"end":true}`, or `{"error":{...}}` if it fails on the way. The text travels as
// JSON strings, so a frame never holds a raw newline whatever the text is.
export interface AdminRequest {
  op: string;
  args: Record<string, unknown>;
}

export type AdminAnswer =
  | { ok: true; result: unknown }
  | { ok: false; error: { code: string; message: string } };

export const streamStart = { ok: true, stream: true } as const;

export type StreamFrame = { data: string } | { end: true } | { error: { code: string; message: string } };

export const maxAdminLineBytes = 1 << 20;

export function encodeLine(value: AdminRequest | AdminAnswer | typeof streamStart | StreamFrame): string {
  return JSON.stringify(value) + '\n';
}
