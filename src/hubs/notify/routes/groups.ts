// /api/group: groups by name, with members. Seed 000 stubbed all of it (and wrote its DELETE route
// with {braces}, so it always answered 404). A group id has at most room_name_length characters.
import type { Hono } from 'hono';
import { groupIdProblem } from '../../../core/groups.ts'; // shared with `flashhub group add`
import type { GroupRecord } from '../../../store/types.ts';
import { StoreError } from '../../../store/types.ts';
import { readJsonBody } from '../../../transports/json-body.ts';
import type { NotifyContext, NotifyEnv } from '../context.ts';
import { notifyError, validationError } from '../errors.ts';
import { ensureUser, ensureUsers, paging } from '../users.ts';

export function groupRoutes(app: Hono<NotifyEnv>, ctx: NotifyContext): void {
  const { core } = ctx;
  const usernames = async (group: GroupRecord) =>
    (await Promise.all(group.members.map((id) => core.directory.getUser(id)))).flatMap((user) => (user ? [user.username] : []));

  app.get('/api/group', async (c) => {
    const { page, pageSize } = paging((name) => c.req.query(name));
    const groups = await core.store.meta.listGroups({ offset: (page - 1) * pageSize, limit: pageSize });
    const list = groups.items.map((group) => ({ group_id: group.id, member_count: group.members.length }));
    return c.json({ list, page, page_size: pageSize, total: groups.total });
  });

  app.post('/api/group', async (c) => {
    const body = await readJsonBody(c, core.config.bodyLimit);
    if (!body.ok) return notifyError(c, body.status, body.message);
    const fields = (body.value ?? {}) as Record<string, unknown>;
    const groupId = fields.group_id ?? fields.name;
    const problem = groupIdProblem(groupId, core.config.roomNameLength);
    if (problem !== undefined) return validationError(c, { group_id: problem });
    if (fields.users !== undefined && !Array.isArray(fields.users)) return validationError(c, { users: 'Users must be a list of user ids' });
    if (await core.store.meta.getGroup(groupId as string)) return notifyError(c, 409, 'Group already exists');
    const members = (await ensureUsers(core, (fields.users as unknown[] | undefined) ?? [], 'users')).map((user) => user.id);
    try {
      const group = await core.store.meta.createGroup(groupId as string, [...new Set(members)]);
      return c.json({ group_id: group.id, users: await usernames(group) }, 201);
    } catch (error) {
      if (error instanceof StoreError && error.code === 'EEXIST') return notifyError(c, 409, 'Group already exists');
      throw error;
    }
  });

  app.get('/api/group/:group_id', async (c) => {
    const group = await core.store.meta.getGroup(c.req.param('group_id'));
    return group ? c.json({ group_id: group.id, users: await usernames(group) }) : notifyError(c, 404, 'Group not found');
  });

  app.delete('/api/group/:group_id', async (c) => {
    const deleted = await core.store.meta.deleteGroup(c.req.param('group_id'));
    return deleted ? c.json({ group_id: c.req.param('group_id'), deleted: true }) : notifyError(c, 404, 'Group not found');
  });

  app.put('/api/group/:group_id/user/:user_id', async (c) => {
    const groupId = c.req.param('group_id');
    if (!(await core.store.meta.getGroup(groupId))) return notifyError(c, 404, 'Group not found');
    const user = await ensureUser(core, c.req.param('user_id'));
    if (!(await core.store.meta.addGroupMember(groupId, user.id))) return notifyError(c, 404, 'Group not found');
    return c.json({ group_id: groupId, user_id: user.username, member: true });
  });

  app.delete('/api/group/:group_id/user/:user_id', async (c) => {
    const groupId = c.req.param('group_id');
    const group = await core.store.meta.getGroup(groupId);
    if (!group) return notifyError(c, 404, 'Group not found');
    const user = await core.directory.findUser(c.req.param('user_id'));
    if (!user || !group.members.includes(user.id)) return notifyError(c, 404, 'User is not a member of this group');
    await core.store.meta.removeGroupMember(groupId, user.id);
    return c.json({ group_id: groupId, user_id: user.username, member: false });
  });
}
