// Seed 004's one response shape, on every HTTP answer and on the 401/404 refusals of the WebSocket:
//   {"code": "<HTTP status as a string>", "message": "<text>", "content": <any or null>}
// (the original's responses.Make). Error frames on a chat socket use it too.
import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';

export interface Envelope {
  code: string;
  message: string;
  content: unknown;
}

export function envelope(status: number, message: string, content: unknown = null): Envelope {
  return { code: String(status), message, content };
}

/** The envelope as JSON text: for upgrade refusals and socket error frames. */
export function envelopeText(status: number, message: string, content: unknown = null): string {
  return JSON.stringify(envelope(status, message, content));
}

export function reply(c: Context, status: ContentfulStatusCode, message: string, content: unknown = null): Response {
  return c.json(envelope(status, message, content), status);
}

/** The seed's texts for its common answers. */
export const messages = {
  headerRequired: 'Authorization header is required',
  unauthorized: 'unauthorized user',
  userNotFound: 'user not found',
  userExists: 'user already exists',
  wrongCredentials: 'wrong credentials',
  internal: 'internal_server_error',
  unavailable: 'service_unavailable',
} as const;
