// What a streaming admin operation returns: text the server sends in frames (protocol.ts) as fast as
// the client reads it. The chunks are pulled one at a time, so a client that reads slowly slows the
// producer (e.g. the reading of the store) instead of filling the server's memory.
export class AdminStream {
  readonly chunks: AsyncIterable<string>;

  constructor(chunks: AsyncIterable<string>) {
    this.chunks = chunks;
  }
}
