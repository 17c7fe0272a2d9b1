// What a webhook says: the Standard Webhooks payload {"type","timestamp","data"}, serialized once
// per event (the same bytes go to every URL and every attempt; only the signature headers change).
// The shapes are documented, with examples, in docs/webhooks.md; change both together.
import type { MessageCreated, NotificationAcked } from '../core/activity.ts';
import type { UserId } from '../store/types.ts';
import { newEventId } from './signature.ts';

export type WebhookType = 'user.online' | 'user.offline' | 'message.created' | 'notification.acked';

export interface WebhookEvent {
  /** webhook-id: the same for every attempt and every URL. */
  id: string;
  type: WebhookType;
  /** Events with the same key (a room, a user) are delivered one after another, in order. */
  key: string;
  body: string;
}

/** A user in a payload; the username is null when the user was already removed. */
export interface UserData {
  id: UserId;
  username: string | null;
}

function webhookEvent(type: WebhookType, key: string, time: number, data: Record<string, unknown>): WebhookEvent {
  return { id: newEventId(), type, key, body: JSON.stringify({ type, timestamp: new Date(time).toISOString(), data }) };
}

export const userKey = (id: UserId) => `user:${id}`;

export function presenceEvent(online: boolean, user: UserData, time: number): WebhookEvent {
  return webhookEvent(online ? 'user.online' : 'user.offline', userKey(user.id), time, { user });
}

export function messageEvent(message: MessageCreated, from: UserData, to: UserData | undefined): WebhookEvent {
  const data = { hub: message.hub, room: message.room, id: message.seq, from, ...(to ? { to } : {}), text: message.text };
  return webhookEvent('message.created', `room:${message.hub}:${message.room}`, message.time, data);
}

export function ackEvent(ack: NotificationAcked, user: UserData): WebhookEvent {
  // Ids as notify's stream renders them: decimal strings.
  const data = { user, ids: ack.ids.map(String), acknowledged: ack.acknowledged };
  return webhookEvent('notification.acked', userKey(user.id), ack.time, data);
}
