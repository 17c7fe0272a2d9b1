// Which browser origins may use flashhub: CORS answers and WebSocket Origin checks share this rule.
// Requests without an Origin header are not from a browser page and are not restricted here.

/** The origin to echo in Access-Control-Allow-Origin, or undefined when it is not allowed. */
export function allowedOrigin(origin: string | undefined, allowed: readonly string[]): string | undefined {
  if (!origin) return undefined;
  return allowed.includes('*') || allowed.includes(origin) ? origin : undefined;
}

export function corsHeaders(origin: string | undefined, allowed: readonly string[]): Record<string, string> {
  const allow = allowedOrigin(origin, allowed);
  return allow ? { 'Access-Control-Allow-Origin': allow, 'Access-Control-Allow-Credentials': 'true', Vary: 'Origin' } : {};
}
