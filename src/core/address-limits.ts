// Live connections per client address: WebSockets and EventSource streams of every hub, counted
// together against `connections_per_address`. One registry per core (so per node: in a cluster each
// node counts only the connections it holds). The address is the TCP peer's, never a header such as
// X-Forwarded-For: behind a reverse proxy every client shares the proxy's address (docs/security.md).
import type { Core } from './core.ts';

export const tooManyFromAddress = 'too many connections from this address';

/** IPv4 clients of a dual-stack listener show as ::ffff:a.b.c.d; they count as a.b.c.d. */
export function normalizeAddress(address: string | undefined): string {
  if (address === undefined || address === '') return 'unknown';
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

export class AddressLimits {
  readonly limit: number;
  readonly #counts = new Map<string, number>();

  constructor(limit: number) {
    this.limit = limit;
  }

  /**
   * Takes one connection slot of the address. Returns the function that gives it back (calling it
   * more than once gives it back once), or undefined when the address already holds `limit`.
   */
  acquire(address: string | undefined): (() => void) | undefined {
    const key = normalizeAddress(address);
    const count = this.#counts.get(key) ?? 0;
    if (count >= this.limit) return undefined;
    this.#counts.set(key, count + 1);
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      const left = (this.#counts.get(key) ?? 1) - 1;
      if (left <= 0) this.#counts.delete(key);
      else this.#counts.set(key, left);
    };
  }

  /** Live connections of the address. */
  count(address: string | undefined): number {
    return this.#counts.get(normalizeAddress(address)) ?? 0;
  }

  /** Addresses with at least one live connection. */
  get addresses(): number {
    return this.#counts.size;
  }
}

const registries = new WeakMap<Pick<Core, 'config'>, AddressLimits>();

/** The registry every transport of one core (one server) shares. */
export function addressLimitsOf(core: Pick<Core, 'config'>): AddressLimits {
  let limits = registries.get(core);
  if (!limits) registries.set(core, (limits = new AddressLimits(core.config.connectionsPerAddress)));
  return limits;
}
