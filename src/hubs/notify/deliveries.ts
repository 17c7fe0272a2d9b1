// Getting notifications to open streams. A notify call publishes one bus event for all its
// recipients; each node writes the frame to the streams it holds. A stream that is still replaying
// what was waiting holds live frames back until the replay is sent, so nothing is sent twice or out of
// order.
import type { Core } from '../../core/core.ts';
import { SharedFrame, type Session } from '../../core/session.ts';
import type { Notification, UserId } from '../../store/types.ts';
import { notificationFrame, pingFrame } from './frames.ts';

const channel = 'notify';
const replayPageSize = 500;

interface NotifyEvent {
  payloadJson: string;
  items: { user: UserId; id: number }[];
}

interface StreamState {
  replaying: boolean;
  held: { id: number; frame: SharedFrame }[];
}

export class Deliveries {
  readonly #core: Core;
  readonly #streams = new Map<Session, StreamState>();
  readonly #unsubscribe: () => void;

  constructor(core: Core) {
    this.#core = core;
    this.#unsubscribe = core.bus.subscribe(channel, (event) => this.#deliver(event as NotifyEvent));
  }

  /** Called once the notifications are durable. */
  publish(notifications: Notification[], payload: unknown): void {
    if (notifications.length === 0) return;
    this.#core.activity.emit({ type: 'notification.created', hub: 'notify', notifications, time: notifications[0]!.ts });
    const event: NotifyEvent = {
      payloadJson: JSON.stringify(payload),
      items: notifications.map(({ user, id }) => ({ user, id })),
    };
    this.#core.bus.publish(channel, event);
  }

  /**
   * Starts delivering to a stream bound to `user`: first what waits (after `lastEventId` when the
   * browser resumes), then live notifications.
   */
  async attach(session: Session, user: UserId, lastEventId: number | undefined): Promise<void> {
    const state: StreamState = { replaying: true, held: [] };
    this.#streams.set(session, state);
    session.onClose(() => this.#streams.delete(session));
    let lastSent = lastEventId ?? 0;
    let sentAny = false;
    for (;;) {
      const page = await this.#core.store.notifications.pending(user, { afterId: lastSent, limit: replayPageSize });
      for (const n of page) {
        if (!session.send(notificationFrame(n.id, JSON.stringify(n.payload)))) return;
        lastSent = n.id;
        sentAny = true;
      }
      if (page.length < replayPageSize) break;
    }
    for (const { id, frame } of state.held) {
      if (id <= lastSent) continue;
      if (!session.send(frame)) return;
      sentAny = true;
    }
    state.replaying = false;
    state.held = [];
    if (!sentAny) session.send(pingFrame);
  }

  close(): void {
    this.#unsubscribe();
  }

  #deliver(event: NotifyEvent): void {
    for (const { user, id } of event.items) {
      let frame: SharedFrame | undefined;
      for (const session of this.#core.presence.sessionsOf(user)) {
        const state = this.#streams.get(session);
        if (!state) continue;
        frame ??= new SharedFrame(notificationFrame(id, event.payloadJson));
        if (state.replaying) state.held.push({ id, frame });
        else session.send(frame);
      }
    }
  }
}
