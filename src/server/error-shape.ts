// The answers the server gives before (or instead of) a hub: 404 for a path no route takes, 413 for a
// declared body over the limit, 404 for an upgrade no hub claims. Under a hub's own prefix they come
// in that hub's error shape (Hub.errorBody), as its clients expect; elsewhere (the root, the seeds'
// shared paths) as {"error": ...}.
import type { Hub } from '../hubs/hub.ts';

export function errorBody(hubs: readonly Hub[], path: string, status: number, message: string): unknown {
  const hub = hubs.find((candidate) => path.startsWith(`/${candidate.name}/`));
  return hub?.errorBody ? hub.errorBody(status, message) : { error: message };
}
