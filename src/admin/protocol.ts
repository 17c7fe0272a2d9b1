// The admin wire format: one JSON request line, one JSON answer line, then the server closes.
export interface AdminRequest {
  op: string;
  args: Record<string, unknown>;
}

export type AdminAnswer =
  | { ok: true; result: unknown }
  | { ok: false; error: { code: string; message: string } };

export const maxAdminLineBytes = 1 << 20;

export function encodeLine(value: AdminRequest | AdminAnswer): string {
  return JSON.stringify(value) + '\n';
}
