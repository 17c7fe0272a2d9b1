// The JSON frames of the presence protocol (reference/seed-protocols.md §2.5). Requests are
// {"type": "<name>", ...args}; "event" or "action" may stand for "type", arguments may sit at the top
// level or in "data", names match case-insensitively, and it-coral's Socket.IO event names are
// accepted as aliases. A client's "reqId" is echoed in the reply.
import { deeperThan, maxJsonDepth } from '../../transports/json-depth.ts';

export type RequestName =
  | 'HELLO'
  | 'sendMessageToUser'
  | 'subscribeOnlineStatus'
  | 'unsubscribeOnlineStatus'
  | 'GOODBYE'
  | 'getAllOnline'
  | 'ping'
  | 'hey';

const names: Record<string, RequestName> = {
  hello: 'HELLO',
  user_hello_event: 'HELLO',
  sendmessagetouser: 'sendMessageToUser',
  subscribeonlinestatus: 'subscribeOnlineStatus',
  unsubscribeonlinestatus: 'unsubscribeOnlineStatus',
  goodbye: 'GOODBYE',
  user_goodbye_event: 'GOODBYE',
  getallonline: 'getAllOnline',
  get_online_users: 'getAllOnline',
  ping: 'ping',
  hey: 'hey',
};

export type ReqId = string | number;

export interface PresenceRequest {
  name: RequestName;
  reqId?: ReqId;
  args: Record<string, unknown>;
}

export type ParseResult = { ok: true; request: PresenceRequest } | { ok: false; error: string; reqId?: ReqId };

const envelopeKeys = new Set(['type', 'event', 'action', 'reqId', 'data']);

export function parseRequest(text: string): ParseResult {
  let frame: unknown;
  try {
    frame = JSON.parse(text);
  } catch {
    return { ok: false, error: 'invalid JSON' };
  }
  if (typeof frame !== 'object' || frame === null || Array.isArray(frame)) return { ok: false, error: 'a frame is a JSON object' };
  const fields = frame as Record<string, unknown>;
  const reqId = validReqId(fields.reqId);
  if (deeperThan(frame)) return { ok: false, error: `JSON nested deeper than ${maxJsonDepth} levels`, reqId };
  const type = fields.type ?? fields.event ?? fields.action;
  const key = typeof type === 'string' ? type.toLowerCase() : '';
  const name = Object.hasOwn(names, key) ? names[key] : undefined;
  if (!name) return { ok: false, error: 'unknown type', reqId };
  const nested = typeof fields.data === 'object' && fields.data !== null && !Array.isArray(fields.data) ? (fields.data as Record<string, unknown>) : {};
  // No prototype: a "__proto__" field must stay a field, not become where lookups of args go.
  const args: Record<string, unknown> = Object.create(null);
  for (const [key, value] of [...Object.entries(nested), ...Object.entries(fields)]) if (!envelopeKeys.has(key)) args[key] = value;
  return { ok: true, request: { name, reqId, args } };
}

function validReqId(value: unknown): ReqId | undefined {
  if (typeof value === 'string' && value.length <= 128) return value;
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  return undefined;
}

/** A successful reply: {"type": <name>, "ok": true, ...fields, "reqId"?}. */
export function replyFrame(name: RequestName, reqId: ReqId | undefined, fields: Record<string, unknown> = {}): string {
  return JSON.stringify({ type: name, ok: true, ...fields, ...(reqId === undefined ? {} : { reqId }) });
}

export function failureFrame(name: RequestName, reqId: ReqId | undefined, error: string): string {
  return JSON.stringify({ type: name, ok: false, error, ...(reqId === undefined ? {} : { reqId }) });
}

/** For frames that could not be read as a request at all. */
export function errorFrame(error: string, reqId?: ReqId): string {
  return JSON.stringify({ type: 'error', error, ...(reqId === undefined ? {} : { reqId }) });
}

/** Sent to every socket on each online/offline change: all online user ids, ascending. */
export function onlineFrame(userIds: readonly number[]): string {
  return `{"type":"online","users":[${userIds.join(',')}]}`;
}

export function onlineStatusFrame(userId: number, online: boolean): string {
  return `{"type":"onlineStatus","userid":${userId},"online":${online}}`;
}

export function messageFrame(from: number, message: unknown): string {
  return JSON.stringify({ type: 'message', from, message });
}
