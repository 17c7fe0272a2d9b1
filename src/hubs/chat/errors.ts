// Seed 002 answered errors as {"message": "..."}.
import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';

export function chatError(c: Context, status: ContentfulStatusCode, message: string): Response {
  return c.json({ message }, status);
}
