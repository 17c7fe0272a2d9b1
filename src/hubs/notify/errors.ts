// Seed 000's error shape: {"error": "<message>"}, and for validation {"error":"Validation error",
// "detail": {"<field>": "<message>"}}.
import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';

export function notifyError(c: Context, status: ContentfulStatusCode, error: string): Response {
  return c.json({ error }, status);
}

export function validationError(c: Context, detail: Record<string, string>): Response {
  return c.json({ error: 'Validation error', detail }, 400);
}

/** A field problem found while reading a request, turned into a validation error by the route. */
export class FieldError extends Error {
  readonly field: string;

  constructor(field: string, message: string) {
    super(message);
    this.name = 'FieldError';
    this.field = field;
  }
}

/** Turns a FieldError thrown anywhere in a route into seed 000's validation error. */
export function fieldErrorResponse(error: Error, c: Context): Response | undefined {
  return error instanceof FieldError ? validationError(c, { [error.field]: error.message }) : undefined;
}
