// What the hubs do, as it happens: a message accepted, a notification published or acknowledged, a
// frame relayed. A hub emits once per cluster (on the node that accepted the message) and only once
// the store write resolved, so a consumer never hears of a message that could still be lost.
// Consumers (the /metrics counters, webhooks) subscribe here; emitting never waits for them, and a
// consumer that throws cannot break the hub that emitted.
import type { Logger } from '../log.ts';
import type { Notification, UserId } from '../store/types.ts';

/** A user as the emitting hub knows them: the username when it had it at hand, without a lookup. */
export interface ActivityUser {
  id: UserId;
  username?: string;
}

/** A chat post or a dm, durable in the store. */
export interface MessageCreated {
  type: 'message.created';
  hub: 'chat' | 'dm';
  room: string;
  /** Per-room sequence: the message id on the hub's wire. */
  seq: number;
  from: ActivityUser;
  /** dm: the other user of the conversation; chat: the other member of a private room. */
  to?: ActivityUser;
  /** As stored (chat stores it HTML-escaped, as the demo did). */
  text: string;
  /** When it was stored, ms since the epoch. */
  time: number;
}

/** One notify call, durable for every recipient. */
export interface NotificationCreated {
  type: 'notification.created';
  hub: 'notify';
  notifications: readonly Notification[];
  time: number;
}

/** presence's sendMessageToUser: not stored, only relayed to the user's sockets. */
export interface MessageRelayed {
  type: 'message.relayed';
  hub: 'presence';
  from: UserId;
  to: UserId;
  /** Sockets of this node that took it (other nodes' are not counted). */
  delivered: number;
  time: number;
}

/** An acknowledge call that acknowledged at least one pending notification. */
export interface NotificationAcked {
  type: 'notification.acked';
  hub: 'notify';
  user: ActivityUser;
  /** The ids the call named. */
  ids: readonly number[];
  /** How many of them were pending and are now acknowledged. */
  acknowledged: number;
  time: number;
}

export type ActivityEvent = MessageCreated | NotificationCreated | MessageRelayed | NotificationAcked;
export type ActivityListener = (event: ActivityEvent) => void;

export class Activity {
  readonly #log: Logger;
  // Replaced, never mutated, on (un)subscribe: emit iterates a plain array with no copy.
  #listeners: readonly ActivityListener[] = [];

  constructor(log: Logger) {
    this.#log = log;
  }

  on(listener: ActivityListener): () => void {
    this.#listeners = [...this.#listeners, listener];
    return () => {
      this.#listeners = this.#listeners.filter((other) => other !== listener);
    };
  }

  emit(event: ActivityEvent): void {
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch (error) {
        this.#log.error('activity.listener_failed', { type: event.type, hub: event.hub, error });
      }
    }
  }
}
