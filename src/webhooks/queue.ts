// The events waiting for one URL, and their delivery with retries.
//
// Order: events with the same key (a room's messages, a user's online/offline and acknowledgements)
// go one after another, each only once the one before it was delivered or given up, so a receiver
// sees a room's messages in order and a user's offline after their online, even across retries.
// Events with different keys go side by side, up to `concurrency` (4) requests at a time. Why 4: one
// request at a time caps a receiver 50 ms away at 20 events a second, far below a busy chat; 4 give
// 80 while a slow or dead receiver holds at most 4 sockets and 4 in-flight events, and a failing
// event (waiting for its retry) holds back only its own key, not the whole URL.
//
// Bound: at most `capacity` events per URL, counting those in flight and those waiting to retry. Past
// it the new event is dropped and counted: a receiver that is down for long must not grow memory.
import type { Logger } from '../log.ts';
import { attempt, type Outcome } from './attempt.ts';
import { maxAttempts, retryDelay } from './backoff.ts';
import type { WebhookEvent } from './payload.ts';
import { ThrottledWarning } from './throttled-log.ts';

/** Counts for /metrics, over every URL. */
export interface WebhookStats {
  /** Events a receiver answered with 2xx. */
  delivered: number;
  /** Attempts that failed (network error, timeout, an answer other than 2xx), retried or not. */
  failedAttempts: number;
  /** Events not queued because the URL's queue was full (or the server was stopping). */
  dropped: number;
  /** Events queued but never delivered: refused (4xx), out of attempts, or cut at shutdown. */
  gaveUp: number;
}

export interface QueueOptions {
  url: string;
  /** HMAC key of the signature. */
  key: Buffer;
  capacity: number;
  retryBaseMs: number;
  concurrency?: number;
  timeoutMs?: number;
  stats: WebhookStats;
  log: Logger;
}

interface Item {
  event: WebhookEvent;
  attempts: number;
}

export class DeliveryQueue {
  readonly #options: Required<QueueOptions>;
  /** Events not started yet (or back from a wait to retry, at the head), per key, in order. */
  readonly #waiting = new Map<string, Item[]>();
  /** Keys whose first waiting event may start now, in the order they became ready. */
  #ready: string[] = [];
  /** Keys with an event in flight or waiting to retry: their next event waits. */
  readonly #busy = new Set<string>();
  readonly #retryTimers = new Map<Item, NodeJS.Timeout>();
  readonly #stopAttempts = new AbortController();
  #inFlight = 0;
  #size = 0;
  #closing = false;
  #stopped = false;
  /** Events given up on since close() began: reported as not delivered. */
  #lostWhileClosing = 0;
  #onIdle: (() => void) | undefined;
  readonly #warnings: Record<'dropped' | 'failed' | 'refused' | 'exhausted', ThrottledWarning>;

  constructor(options: QueueOptions) {
    this.#options = { concurrency: 4, timeoutMs: 5000, ...options };
    const { log } = options;
    this.#warnings = {
      dropped: new ThrottledWarning(log, 'webhook.events_dropped'),
      failed: new ThrottledWarning(log, 'webhook.attempt_failed'),
      refused: new ThrottledWarning(log, 'webhook.event_refused'),
      exhausted: new ThrottledWarning(log, 'webhook.event_given_up'),
    };
  }

  /** Events waiting, in flight or waiting to retry. */
  get size(): number {
    return this.#size;
  }

  /** Queues an event; false when it was dropped (queue full, or closing). */
  push(event: WebhookEvent): boolean {
    if (this.#closing || this.#size >= this.#options.capacity) {
      this.#options.stats.dropped++;
      this.#warnings.dropped.note({ queue: this.#options.capacity, detail: 'the queue of this URL is full; new events are dropped' });
      return false;
    }
    this.#size++;
    this.#enqueue({ event, attempts: 0 }, 'last');
    this.#pump();
    return true;
  }

  /**
   * Stops taking events, tries what is queued (retries at once, no more backoff) for up to `graceMs`,
   * then cuts the rest. Resolves with how many queued events were not delivered.
   */
  async close(graceMs: number): Promise<number> {
    this.#closing = true;
    for (const [item, timer] of this.#retryTimers) {
      clearTimeout(timer);
      this.#requeue(item);
    }
    this.#retryTimers.clear();
    this.#pump();
    if (this.#size > 0) {
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        this.#onIdle = resolve;
        timer = setTimeout(resolve, graceMs);
      });
      clearTimeout(timer);
    }
    this.#stopped = true;
    const cut = this.#size;
    let unstarted = 0;
    for (const items of this.#waiting.values()) unstarted += items.length;
    this.#options.stats.gaveUp += unstarted;
    this.#size -= unstarted;
    this.#waiting.clear();
    this.#ready = [];
    // The attempts still running end now, and count as given up when they do.
    this.#stopAttempts.abort();
    for (const warning of Object.values(this.#warnings)) warning.flush();
    return this.#lostWhileClosing + cut;
  }

  #enqueue(item: Item, where: 'first' | 'last'): void {
    const key = item.event.key;
    let items = this.#waiting.get(key);
    if (!items) this.#waiting.set(key, (items = []));
    if (where === 'first') items.unshift(item);
    else items.push(item);
    if (!this.#busy.has(key) && items.length === 1) this.#ready.push(key);
  }

  /** An event back from its wait goes before the later events of its key. */
  #requeue(item: Item): void {
    this.#busy.delete(item.event.key);
    this.#enqueue(item, 'first');
    const items = this.#waiting.get(item.event.key)!;
    // #enqueue only marks a key ready when its list was empty.
    if (items.length > 1) this.#ready.push(item.event.key);
  }

  #pump(): void {
    while (!this.#stopped && this.#inFlight < this.#options.concurrency && this.#ready.length > 0) {
      const key = this.#ready.shift()!;
      const items = this.#waiting.get(key)!;
      const item = items.shift()!;
      if (items.length === 0) this.#waiting.delete(key);
      this.#busy.add(key);
      void this.#run(item);
    }
  }

  async #run(item: Item): Promise<void> {
    const { url, key, timeoutMs, stats } = this.#options;
    this.#inFlight++;
    item.attempts++;
    const outcome = await attempt(url, item.event, key, AbortSignal.any([AbortSignal.timeout(timeoutMs), this.#stopAttempts.signal]));
    this.#inFlight--;
    if (outcome.kind === 'delivered') {
      stats.delivered++;
      this.#finish(item);
    } else {
      stats.failedAttempts++;
      this.#failed(item, outcome);
    }
    this.#pump();
  }

  #failed(item: Item, outcome: Exclude<Outcome, { kind: 'delivered' }>): void {
    const { type, id } = item.event;
    if (outcome.kind === 'rejected') {
      this.#warnings.refused.note({ status: outcome.status, type, id, detail: 'the receiver refused the event; it is not sent again' });
      return this.#giveUp(item);
    }
    this.#warnings.failed.note({ reason: outcome.reason, attempt: item.attempts, type, id });
    if (this.#closing || item.attempts >= maxAttempts) {
      if (!this.#closing) this.#warnings.exhausted.note({ attempts: item.attempts, reason: outcome.reason, type, id });
      return this.#giveUp(item);
    }
    const waitMs = Math.max(retryDelay(item.attempts, this.#options.retryBaseMs), outcome.retryAfterMs ?? 0);
    const timer = setTimeout(() => {
      this.#retryTimers.delete(item);
      this.#requeue(item);
      this.#pump();
    }, waitMs);
    // A retry alone does not keep the process running; close() decides what happens to it.
    timer.unref();
    this.#retryTimers.set(item, timer);
  }

  #giveUp(item: Item): void {
    this.#options.stats.gaveUp++;
    if (this.#closing) this.#lostWhileClosing++;
    this.#finish(item);
  }

  #finish(item: Item): void {
    this.#size--;
    const key = item.event.key;
    this.#busy.delete(key);
    if (this.#waiting.has(key) && !this.#stopped) this.#ready.push(key);
    if (this.#size === 0) this.#onIdle?.();
  }
}
