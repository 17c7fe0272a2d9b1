// Writes to a connection are gathered for the rest of the event-loop turn (cork) and flushed together
// (uncork in setImmediate): several frames to one client in a turn leave in one syscall, and a
// broadcast's writes don't each pay for their own.
import type { Writable } from 'node:stream';

const corked = new Set<Writable>();
let flushScheduled = false;

function flush(): void {
  flushScheduled = false;
  for (const stream of corked) stream.uncork();
  corked.clear();
}

export function writeBatched(stream: Writable, chunk: string | Buffer): void {
  if (!corked.has(stream)) {
    stream.cork();
    corked.add(stream);
    if (!flushScheduled) {
      flushScheduled = true;
      setImmediate(flush);
    }
  }
  stream.write(chunk);
}
