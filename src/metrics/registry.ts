// The Prometheus metrics of one server (GET /metrics). Most are read at scrape time from what the core
// keeps anyway (core.counters, the presence registry, the store's stats), so counting costs the hot
// paths an increment at most; only latencies are observed as they happen, into histograms.
import client from 'prom-client';
import type { Core } from '../core/core.ts';
import { commit, version } from '../version.ts';
import type { StoreTiming, StoreWrite, StoreWriteObserver } from './store-timing.ts';

/** Counts kept outside the core that /metrics reports too (e.g. the webhook queues). */
export type ExtraCollector = (registry: client.Registry) => void;

export class Metrics implements StoreWriteObserver {
  readonly registry = new client.Registry();
  readonly #storeWrites: client.Histogram<'operation' | 'outcome'>;
  readonly #requests: client.Counter<'hub' | 'code'>;
  readonly #requestSeconds: client.Histogram<'hub'>;

  constructor() {
    client.collectDefaultMetrics({ register: this.registry });
    this.#storeWrites = new client.Histogram({
      name: 'flashhub_store_write_seconds',
      help: 'Store writes from the call until durable, by operation',
      labelNames: ['operation', 'outcome'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [this.registry],
    });
    this.#requests = new client.Counter({
      name: 'flashhub_http_requests_total',
      help: 'HTTP requests answered, by hub (or root/console) and status code',
      labelNames: ['hub', 'code'],
      registers: [this.registry],
    });
    this.#requestSeconds = new client.Histogram({
      name: 'flashhub_http_request_seconds',
      help: 'Time from a request until its answer is written (EventSource streams: until the stream opens)',
      labelNames: ['hub'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [this.registry],
    });
  }

  written(operation: StoreWrite, seconds: number, ok: boolean): void {
    this.#storeWrites.observe({ operation, outcome: ok ? 'ok' : 'error' }, seconds);
  }

  requestServed(hub: string, code: number, seconds: number): void {
    this.#requests.inc({ hub, code: String(code) });
    this.#requestSeconds.observe({ hub }, seconds);
  }

  /** The gauges and counters read from the core at scrape time. */
  watch(core: Core, storeTiming: StoreTiming, extras: ExtraCollector[] = []): void {
    watchInfo(this.registry, core);
    watchConnections(this.registry, core);
    watchHubTraffic(this.registry, core);
    watchAuth(this.registry, core);
    watchStore(this.registry, core, storeTiming);
    watchRedis(this.registry, core);
    for (const extra of extras) extra(this.registry);
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}

function watchInfo(registry: client.Registry, core: Core): void {
  new client.Gauge({
    name: 'flashhub_info',
    help: 'Always 1; the labels say which build runs, on which store and as which cluster node',
    labelNames: ['version', 'commit', 'store', 'node'],
    registers: [registry],
    collect() {
      this.set({ version, commit, store: core.store.kind, node: core.cluster.nodeId }, 1);
    },
  });
}

function watchConnections(registry: client.Registry, core: Core): void {
  new client.Gauge({
    name: 'flashhub_connections',
    help: 'Live connections (WebSocket and EventSource) on this node, by hub and transport',
    labelNames: ['hub', 'transport'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [key, count] of Object.entries(core.presence.counts())) {
        const [hub = '', transport = ''] = key.split('/');
        this.set({ hub, transport }, count);
      }
    },
  });
  new client.Gauge({
    name: 'flashhub_online_users',
    help: 'Users online on any hub (in a cluster: on any node), each counted once',
    registers: [registry],
    collect() {
      this.set(core.presence.onlineUsers().length);
    },
  });
  collectedCounter(registry, 'flashhub_connections_opened_total', 'Connections opened, by hub and transport', ['hub', 'transport'], (set) => {
    for (const [hub, counts] of core.counters.hubs()) for (const [transport, n] of Object.entries(counts.opened)) set({ hub, transport }, n);
  });
  collectedCounter(registry, 'flashhub_connections_closed_total', 'Connections closed, by hub and reason', ['hub', 'reason'], (set) => {
    for (const [hub, counts] of core.counters.hubs()) for (const [reason, n] of counts.closed) set({ hub, reason }, n);
  });
}

function watchHubTraffic(registry: client.Registry, core: Core): void {
  const hubs = () => core.counters.hubs();
  collectedCounter(registry, 'flashhub_messages_in_total', 'Messages accepted from clients and backends, by hub', ['hub'], (set) => {
    for (const [hub, counts] of hubs()) set({ hub }, counts.messagesIn);
  });
  collectedCounter(registry, 'flashhub_messages_out_total', 'Distinct frames sent (a broadcast counts once), by hub', ['hub'], (set) => {
    for (const [hub, counts] of hubs()) set({ hub }, counts.messagesOut);
  });
  collectedCounter(registry, 'flashhub_deliveries_total', 'Frames written to connections, by hub and transport', ['hub', 'transport'], (set) => {
    for (const [hub, counts] of hubs()) for (const [transport, n] of Object.entries(counts.deliveries)) set({ hub, transport }, n);
  });
  collectedCounter(registry, 'flashhub_messages_dropped_total', 'Frames not written: the connection was closed or not reading, by hub', ['hub'], (set) => {
    for (const [hub, counts] of hubs()) set({ hub }, counts.dropped);
  });
  collectedCounter(registry, 'flashhub_slow_consumer_disconnects_total', 'Connections closed because their send queue was full, by hub', ['hub'], (set) => {
    for (const [hub, counts] of hubs()) set({ hub }, counts.slowConsumers);
  });
  collectedCounter(registry, 'flashhub_bus_published_total', 'Events published on the bus, by channel kind', ['channel'], (set) => {
    const byKind = new Map<string, number>();
    for (const [channel, n] of Object.entries(core.bus.publishedCounts())) {
      const kind = channel.split(/[.:]/)[0] ?? channel;
      byKind.set(kind, (byKind.get(kind) ?? 0) + n);
    }
    for (const [channel, n] of byKind) set({ channel }, n);
  });
}

function watchAuth(registry: client.Registry, core: Core): void {
  collectedCounter(registry, 'flashhub_auth_failures_total', 'Failed logins (by limiter) and tokens that did not verify', ['kind'], (set) => {
    for (const [limiter, n] of core.counters.authFailures()) set({ kind: `login:${limiter}` }, n);
    for (const [reason, n] of core.tokens.failures()) set({ kind: `token:${reason}` }, n);
  });
}

function watchStore(registry: client.Registry, core: Core, timing: StoreTiming): void {
  new client.Gauge({
    name: 'flashhub_store_writes_in_flight',
    help: 'Store writes waiting to be durable (the write queue as the hubs see it)',
    registers: [registry],
    collect() {
      this.set(timing.inFlight);
    },
  });
  new client.Gauge({
    name: 'flashhub_store_messages',
    help: 'Messages kept in history, all rooms',
    registers: [registry],
    collect() {
      this.set(core.store.stats().messages);
    },
  });
  new client.Gauge({
    name: 'flashhub_store_pending_notifications',
    help: 'Notifications waiting for their acknowledgement',
    registers: [registry],
    collect() {
      this.set(core.store.stats().pendingNotifications);
    },
  });
  new client.Gauge({
    name: 'flashhub_store_bytes',
    help: 'Bytes the store uses (file store: its files; Redis: used_memory of the whole Redis)',
    registers: [registry],
    collect() {
      this.set(core.store.stats().bytes);
    },
  });
  new client.Gauge({
    name: 'flashhub_ready',
    help: '1 when /readyz answers ready: the store and (in a cluster) Redis are reachable',
    registers: [registry],
    collect() {
      this.set(core.store.ready() && core.cluster.ready() ? 1 : 0);
    },
  });
}

function watchRedis(registry: client.Registry, core: Core): void {
  new client.Gauge({
    name: 'flashhub_redis_connected',
    help: '1 while this node reaches Redis (its bus and presence link, and its store connection)',
    labelNames: ['link'],
    registers: [registry],
    collect() {
      // A lone node has no Redis: the family is declared (dashboards find it) with no samples.
      if (core.config.redisUrl === '') return;
      this.set({ link: 'cluster' }, core.cluster.ready() ? 1 : 0);
      this.set({ link: 'store' }, core.store.ready() ? 1 : 0);
    },
  });
}

/**
 * A counter whose totals are kept elsewhere as plain numbers: at each scrape it is rebuilt from them
 * (prom-client counters only go up by inc, hence reset first).
 */
function collectedCounter<L extends string>(
  registry: client.Registry,
  name: string,
  help: string,
  labelNames: L[],
  read: (set: (labels: Record<L, string>, value: number) => void) => void,
): void {
  new client.Counter({
    name,
    help,
    labelNames,
    registers: [registry],
    collect() {
      this.reset();
      read((labels, value) => {
        if (value > 0) this.inc(labels as client.LabelValues<L>, value);
      });
    },
  });
}
