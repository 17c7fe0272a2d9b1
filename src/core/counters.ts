// What the hubs did since the start: plain numbers bumped where things happen (a send, a failed
// login). Hot paths pay one increment; /metrics reads them when it is scraped (metrics/registry.ts).

/** What one hub did since the start. */
export interface HubCounts {
  /** Messages accepted from clients and backends (a chat post, a notification, a dm, a relayed frame). */
  messagesIn: number;
  /** Distinct frames sent out: a broadcast counts once however many connections it reaches. */
  messagesOut: number;
  /** Frames written to a connection, by transport. */
  deliveries: { ws: number; sse: number };
  /** Frames not written because the connection was closed or not reading. */
  dropped: number;
  /** Connections closed because their send queue was full. */
  slowConsumers: number;
  /** Connections opened, by transport. */
  opened: { ws: number; sse: number };
  /** Connections closed, by reason (session.ts closeReasons' names). */
  closed: Map<string, number>;
}

export function newHubCounts(): HubCounts {
  return {
    messagesIn: 0,
    messagesOut: 0,
    deliveries: { ws: 0, sse: 0 },
    dropped: 0,
    slowConsumers: 0,
    opened: { ws: 0, sse: 0 },
    closed: new Map(),
  };
}

export class Counters {
  readonly #hubs = new Map<string, HubCounts>();
  readonly #authFailures = new Map<string, number>();

  /** The hub's counts, created at first use; callers may keep the object and bump it directly. */
  hub(name: string): HubCounts {
    let counts = this.#hubs.get(name);
    if (!counts) {
      counts = newHubCounts();
      this.#hubs.set(name, counts);
    }
    return counts;
  }

  hubs(): ReadonlyMap<string, HubCounts> {
    return this.#hubs;
  }

  /** A login with a wrong password, or a token that did not verify ('password', 'token', ...). */
  authFailed(kind: string): void {
    this.#authFailures.set(kind, (this.#authFailures.get(kind) ?? 0) + 1);
  }

  authFailures(): ReadonlyMap<string, number> {
    return this.#authFailures;
  }
}
