// The answers the server gives before (or instead of) a hub: 404 for a path no route takes, 413 for a
// declared body over the limit, 404 for an upgrade no hub claims. Under a hub's own prefix they come
// in that hub's error shape, as its clients expect; elsewhere (the root, the seeds' shared paths) as
// {"error": ...}.

export function errorBody(path: string, status: number, message: string): unknown {
  if (path.startsWith('/chat/')) return { message };
  if (path.startsWith('/dm/')) return { code: String(status), message, content: null };
  return { error: message };
}
