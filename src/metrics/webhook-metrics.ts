// The webhook queues' counts in /metrics, registered whether or not webhooks are configured, so that
// dashboards show zeros rather than "no data".
import client from 'prom-client';
import type { WebhookStats } from '../webhooks/queue.ts';
import type { ExtraCollector } from './registry.ts';

export function webhookMetrics(stats: () => WebhookStats & { queued: number }): ExtraCollector {
  return (registry) => {
    new client.Counter({
      name: 'flashhub_webhook_events_total',
      help: 'Webhook events by outcome: delivered, failed_attempt (retried or not), dropped (queue full), gave_up',
      labelNames: ['outcome'],
      registers: [registry],
      collect() {
        const now = stats();
        this.reset();
        this.inc({ outcome: 'delivered' }, now.delivered);
        this.inc({ outcome: 'failed_attempt' }, now.failedAttempts);
        this.inc({ outcome: 'dropped' }, now.dropped);
        this.inc({ outcome: 'gave_up' }, now.gaveUp);
      },
    });
    new client.Gauge({
      name: 'flashhub_webhook_queued',
      help: 'Webhook events waiting to be delivered, all URLs',
      registers: [registry],
      collect() {
        this.set(stats().queued);
      },
    });
  };
}
