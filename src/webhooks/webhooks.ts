// Webhooks: what happens on the hubs (users coming online and going offline, chat and dm messages,
// notifications acknowledged), POSTed to every configured URL, signed as Standard Webhooks.
// docs/webhooks.md describes the events, the headers, the retries and the guarantees.
//
// Each event is sent once per cluster: the node where it happened sends it (presence changes with
// cause 'local', activity that the hubs emit on the node that accepted the message).
import type { ActivityEvent } from '../core/activity.ts';
import type { Core } from '../core/core.ts';
import type { Config } from '../config.ts';
import type { UserId } from '../store/types.ts';
import { OfflineDebouncer } from './offline-debounce.ts';
import { ackEvent, messageEvent, presenceEvent, type WebhookEvent } from './payload.ts';
import { DeliveryQueue, type WebhookStats } from './queue.ts';
import { webhookKey } from './signature.ts';
import { Usernames } from './usernames.ts';

export interface WebhookSettings {
  urls: string[];
  secret: string;
  offlineDelaySeconds: number;
  /** Events waiting per URL. */
  queue: number;
  retryDelayMs: number;
  /** How long close() keeps trying what is queued before it gives up. */
  closeGraceMs: number;
}

export interface Webhooks {
  /** Since the start, over every URL; `queued` is what waits now. */
  stats(): WebhookStats & { queued: number };
  /** Stops taking events, tries what is queued for a moment, logs what was not delivered. */
  close(): Promise<void>;
}

/** A stopping node tells the others which offlines it announced without waiting (offline-debounce.ts). */
const offlinesChannel = 'webhooks.offlines_announced';

interface OfflinesAnnounced {
  node: string;
  users: UserId[];
}

export function settingsOf(config: Config): WebhookSettings {
  return {
    urls: config.webhook,
    secret: config.webhookSecret,
    offlineDelaySeconds: config.webhookOfflineDelay,
    queue: config.webhookQueue,
    retryDelayMs: config.webhookRetryDelay,
    // Out of shutdown_timeout, which must also cover the drain and the store's flush.
    closeGraceMs: Math.min(2000, config.shutdownTimeout * 200),
  };
}

export function startWebhooks(core: Core, overrides: Partial<WebhookSettings> = {}): Webhooks {
  const settings = { ...settingsOf(core.config), ...overrides };
  const stats: WebhookStats = { delivered: 0, failedAttempts: 0, dropped: 0, gaveUp: 0 };
  if (settings.urls.length === 0) return { stats: () => ({ ...stats, queued: 0 }), close: async () => {} };

  const key = webhookKey(settings.secret);
  const queues = settings.urls.map(
    (url, i) => new DeliveryQueue({ url, key, capacity: settings.queue, retryBaseMs: settings.retryDelayMs, stats, log: core.log.child({ webhook: targetOf(url, i) }) }),
  );
  const usernames = new Usernames(core.directory, core.log);
  // Payloads are built side by side (some wait for a username), but queued in the order things happened.
  let inOrder = Promise.resolve();
  const send = (built: Promise<WebhookEvent>) => {
    inOrder = inOrder
      .then(() => built)
      .then(
        (event) => queues.forEach((queue) => queue.push(event)),
        (error: unknown) => core.log.error('webhook.event_failed', { error }),
      );
  };

  const debouncer = new OfflineDebouncer(
    settings.offlineDelaySeconds * 1000,
    (userId, online, at) => send(usernames.of({ id: userId }).then((user) => presenceEvent(online, user, at))),
    (userId) => core.presence.isOnline(userId),
  );
  const stops = [
    core.presence.onChange((userId, online, cause) => debouncer.change(userId, online, cause)),
    core.activity.on((event) => {
      const built = webhookOf(event, usernames);
      if (built) send(built);
    }),
    core.bus.subscribe(offlinesChannel, (payload) => {
      const { node, users } = payload as OfflinesAnnounced;
      if (node !== core.cluster.nodeId) debouncer.announcedElsewhere(users, (userId) => core.presence.sessionsOf(userId).size > 0);
    }),
  ];
  core.log.info('webhook.started', { targets: settings.urls.map(targetOf), offlineDelay: settings.offlineDelaySeconds, queue: settings.queue });

  const close = async () => {
    for (const stop of stops) stop();
    const users = debouncer.flush();
    if (users.length > 0) core.bus.publish(offlinesChannel, { node: core.cluster.nodeId, users } satisfies OfflinesAnnounced);
    await inOrder;
    const undelivered = await Promise.all(queues.map((queue) => queue.close(settings.closeGraceMs)));
    const events = undelivered.reduce((sum, n) => sum + n, 0);
    if (events > 0) core.log.warn('webhook.undelivered', { events, detail: 'still queued at shutdown; not delivered' });
  };
  let closing: Promise<void> | undefined;
  return {
    stats: () => ({ ...stats, queued: queues.reduce((sum, queue) => sum + queue.size, 0) }),
    close: () => (closing ??= close()),
  };
}

/** The webhook an activity makes, if any (presence's relays and new notifications make none). */
function webhookOf(event: ActivityEvent, usernames: Usernames): Promise<WebhookEvent> | undefined {
  switch (event.type) {
    case 'message.created':
      return Promise.all([usernames.of(event.from), event.to && usernames.of(event.to)]).then(([from, to]) => messageEvent(event, from, to));
    case 'notification.acked':
      return usernames.of(event.user).then((user) => ackEvent(event, user));
    default:
      return undefined;
  }
}

/** How logs name a URL: its origin only, since the path or query often is the receiver's secret. */
function targetOf(url: string, i: number): string {
  return `#${i + 1} ${new URL(url).origin}`;
}
