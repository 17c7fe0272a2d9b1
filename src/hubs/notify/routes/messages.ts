// POST /api/message/notify and /api/message/acknowledge.
import type { Hono } from 'hono';
import type { ActivityUser } from '../../../core/activity.ts';
import type { UserId } from '../../../store/types.ts';
import { readJsonBody } from '../../../transports/json-body.ts';
import type { NotifyContext, NotifyEnv } from '../context.ts';
import { FieldError, notifyError, validationError } from '../errors.ts';
import { ensureUsers } from '../users.ts';

const maxAckIds = 1000;

export function messageRoutes(app: Hono<NotifyEnv>, ctx: NotifyContext): void {
  const { core } = ctx;

  // Stored durably for every recipient before the 202, then pushed to their open streams.
  app.post('/api/message/notify', async (c) => {
    const body = await readJsonBody(c, core.config.bodyLimit);
    if (!body.ok) return notifyError(c, body.status, body.message);
    const { users, groups, payload } = (body.value ?? {}) as Record<string, unknown>;
    if (users == null && groups == null) return notifyError(c, 400, 'Destiny is required');
    if (payload === undefined || payload === null || payload === '') return validationError(c, { payload: 'Payload cannot be empty' });
    const usernames = listOf(users, 'users');
    const groupIds = listOf(groups, 'groups');
    const recipients = new Set<UserId>();
    for (const groupId of groupIds) {
      for (const member of (await core.store.meta.getGroup(groupId))?.members ?? []) recipients.add(member);
    }
    for (const user of await ensureUsers(core, usernames, 'users')) recipients.add(user.id);
    const notifications = await core.store.notifications.enqueue([...recipients], payload);
    ctx.deliveries.publish(notifications, payload);
    return c.json({ recipients: recipients.size }, 202);
  });

  // With a client token: {user_id, message_ids}. With the user's own stream token: {message_ids}.
  app.post('/api/message/acknowledge', async (c) => {
    const body = await readJsonBody(c, core.config.bodyLimit);
    if (!body.ok) return notifyError(c, body.status, body.message);
    const { user_id: username, message_ids: messageIds } = (body.value ?? {}) as Record<string, unknown>;
    const ids = ackIds(messageIds);
    const caller = c.get('caller');
    let user: ActivityUser;
    if (caller.kind === 'client') {
      if (typeof username !== 'string' || username === '') return validationError(c, { user_id: 'User id cannot be empty' });
      const found = await core.directory.findUser(username);
      if (!found) return notifyError(c, 404, 'User not found');
      user = { id: found.id, username: found.username };
    } else {
      user = { id: caller.userId };
      if (username !== undefined) {
        const found = await core.directory.getUser(caller.userId);
        if (found?.username !== username) return notifyError(c, 403, 'A stream token acknowledges only its own notifications');
        user.username = found.username;
      }
    }
    const acknowledged = await core.store.notifications.ack(user.id, ids);
    // Once per acknowledgement: ids acknowledged again change nothing and say nothing.
    if (acknowledged > 0) core.activity.emit({ type: 'notification.acked', hub: 'notify', user, ids, acknowledged, time: Date.now() });
    return c.json({ acknowledged });
  });
}

function listOf(value: unknown, field: string): string[] {
  if (value == null) return [];
  if (!Array.isArray(value) || !value.every((item) => typeof item === 'string')) {
    throw new FieldError(field, `${field === 'users' ? 'Users' : 'Groups'} must be a list of strings`);
  }
  return value;
}

function ackIds(value: unknown): number[] {
  if (!Array.isArray(value) || value.length === 0 || value.length > maxAckIds) {
    throw new FieldError('message_ids', `Message ids must be a list of 1 to ${maxAckIds} ids`);
  }
  return value.map((item) => {
    const id = typeof item === 'number' ? item : typeof item === 'string' && /^\d{1,15}$/.test(item) ? Number(item) : NaN;
    if (!Number.isSafeInteger(id) || id < 1) throw new FieldError('message_ids', 'Message ids are positive whole numbers');
    return id;
  });
}
