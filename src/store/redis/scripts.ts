// The Lua scripts of the Redis store. Each runs atomically, so a check and the write it guards
// (username taken?, cid seen?, which id next?) can never interleave with another node's.
// ioredis sends them with EVALSHA, falling back to EVAL after NOSCRIPT (e.g. a restarted Redis).
//
// Counters are formatted with %d: Lua 5.1's tostring switches to exponent notation past 1e14.

export interface ScriptDef {
  name: string;
  lua: string;
}

// ---- messages: KEYS = [seq, msgs, cids] of one room, so one slot

/**
 * ARGV = [body, cidWindow, cid?]; body is the message JSON without its seq.
 * Returns the new seq (integer), or the stored JSON of the original when the cid is known and
 * its message still exists (a retry after a lost reply).
 */
export const APPEND: ScriptDef = {
  name: 'fhAppend',
  lua: `
local cid = ARGV[3]
if cid then
  local s = redis.call('ZSCORE', KEYS[3], cid)
  if s then
    local m = redis.call('ZRANGE', KEYS[2], s, s, 'BYSCORE')
    if m[1] then return m[1] end
  end
end
local seq = redis.call('INCR', KEYS[1])
redis.call('ZADD', KEYS[2], seq, '{"seq":' .. string.format('%d', seq) .. ',' .. string.sub(ARGV[1], 2))
if cid then
  local window = tonumber(ARGV[2])
  redis.call('ZADD', KEYS[3], seq, cid)
  if redis.call('ZCARD', KEYS[3]) > window then redis.call('ZREMRANGEBYRANK', KEYS[3], 0, -window - 1) end
end
return seq`,
};

/**
 * Migration: messages made elsewhere, with their own seqs. ARGV = [cidWindow, seq, json, cid, ...]
 * with seqs ascending, each json as APPEND stores it, each cid `=<cid>` or '' for none.
 * Returns how many were stored, or -1 (nothing stored) if the first seq is not above the counter.
 */
export const IMPORT_MESSAGES: ScriptDef = {
  name: 'fhImportMessages',
  lua: `
local last = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[2]) <= last then return -1 end
for i = 2, #ARGV, 3 do
  redis.call('ZADD', KEYS[2], ARGV[i], ARGV[i + 1])
  if ARGV[i + 2] ~= '' then redis.call('ZADD', KEYS[3], ARGV[i], string.sub(ARGV[i + 2], 2)) end
  last = ARGV[i]
end
local window = tonumber(ARGV[1])
if redis.call('ZCARD', KEYS[3]) > window then redis.call('ZREMRANGEBYRANK', KEYS[3], 0, -window - 1) end
redis.call('SET', KEYS[1], last)
return (#ARGV - 1) / 3`,
};

/** KEYS = [counter]; ARGV = [value]. Raises an INCR counter to value, never lowers it. Returns it. */
export const RAISE_COUNTER: ScriptDef = {
  name: 'fhRaiseCounter',
  lua: `
local now = tonumber(redis.call('GET', KEYS[1]) or '0')
if now >= tonumber(ARGV[1]) then return now end
redis.call('SET', KEYS[1], ARGV[1])
return tonumber(ARGV[1])`,
};

// ---- notifications: all keys carry {notif}, since ids come from one counter

/**
 * KEYS = [next, pending, queue of user 1, ..., queue of user n]; ARGV = [tail, user 1, ..., user n]
 * where tail is the JSON after the user field (`,"ts":...,"payload":...}`).
 * Ids are taken inside the script, so a user's queue only ever grows at its end: a reader paging
 * with afterId never misses a notification that became visible later with a smaller id.
 * Returns [first id, pending total].
 */
export const ENQUEUE: ScriptDef = {
  name: 'fhEnqueue',
  lua: `
local n = #KEYS - 2
local first = redis.call('INCRBY', KEYS[1], n) - n + 1
for i = 1, n do
  local id = string.format('%d', first + i - 1)
  redis.call('ZADD', KEYS[i + 2], id, '{"id":' .. id .. ',"user":' .. ARGV[i + 1] .. ARGV[1])
end
return {first, redis.call('INCRBY', KEYS[2], n)}`,
};

/**
 * Migration: notifications made elsewhere, with their own ids. KEYS = [next, pending, queue of the
 * user of notification 1, ..., of notification n]; ARGV = [id 1, json 1, ..., id n, json n], each
 * json as ENQUEUE stores it. Raises next to the highest id. Returns [stored, pending total], or
 * [-1, id] (nothing stored) if that id is pending already in its user's queue.
 */
export const IMPORT_NOTIFICATIONS: ScriptDef = {
  name: 'fhImportNotifications',
  lua: `
local n = #KEYS - 2
for i = 1, n do
  local id = ARGV[2 * i - 1]
  if #redis.call('ZRANGE', KEYS[i + 2], id, id, 'BYSCORE') > 0 then return {-1, tonumber(id)} end
end
local top = tonumber(redis.call('GET', KEYS[1]) or '0')
for i = 1, n do
  redis.call('ZADD', KEYS[i + 2], ARGV[2 * i - 1], ARGV[2 * i])
  if tonumber(ARGV[2 * i - 1]) > top then top = tonumber(ARGV[2 * i - 1]) end
end
redis.call('SET', KEYS[1], string.format('%d', top))
return {n, redis.call('INCRBY', KEYS[2], n)}`,
};

/** KEYS = [queue, pending]; ARGV = ids. Returns [acknowledged, pending total]. */
export const ACK: ScriptDef = {
  name: 'fhAck',
  lua: `
local n = 0
for i = 1, #ARGV do n = n + redis.call('ZREMRANGEBYSCORE', KEYS[1], ARGV[i], ARGV[i]) end
if n > 0 then return {n, redis.call('DECRBY', KEYS[2], n)} end
return {0, tonumber(redis.call('GET', KEYS[2]) or '0')}`,
};

/** KEYS = [queue, pending]. Returns [dropped, pending total]. */
export const CLEAR: ScriptDef = {
  name: 'fhClear',
  lua: `
local n = redis.call('ZCARD', KEYS[1])
if n > 0 then
  redis.call('DEL', KEYS[1])
  return {n, redis.call('DECRBY', KEYS[2], n)}
end
return {0, tonumber(redis.call('GET', KEYS[2]) or '0')}`,
};

// ---- metadata: KEYS = [any {meta} key, for routing]; ARGV[1] = the {meta} key prefix M.
//
// Memberships are kept both ways so deletes can cascade without scanning:
//   M<kind>-members:<id>   sorted set of user ids, score = join order (one counter, M order)
//   M user-<kind>s:<user>  sorted set of <kind> ids, same scores
// where kind is 'group' or 'room'.

const MEMBERSHIP = `
local function addMembers(M, kind, id, first)
  local n = #ARGV - first + 1
  if n <= 0 then return end
  local o = redis.call('INCRBY', M .. 'order', n) - n
  for i = first, #ARGV do
    o = o + 1
    redis.call('ZADD', M .. kind .. '-members:' .. id, o, ARGV[i])
    redis.call('ZADD', M .. 'user-' .. kind .. 's:' .. ARGV[i], o, id)
  end
end
local function dropMembers(M, kind, id)
  local key = M .. kind .. '-members:' .. id
  for _, u in ipairs(redis.call('ZRANGE', key, 0, -1)) do redis.call('ZREM', M .. 'user-' .. kind .. 's:' .. u, id) end
  redis.call('DEL', key)
end
`;

/**
 * ARGV = [M, lowerCasedName, createdAt, field, json, ...]. SET NX on the lower-cased name is the
 * uniqueness gate; the id is only taken once it passed, so a clash wastes none.
 * Returns the new id, or 0 if the name is taken.
 */
export const CREATE_USER: ScriptDef = {
  name: 'fhCreateUser',
  lua: `
local M = ARGV[1]
local id = string.format('%d', (tonumber(redis.call('GET', M .. 'user-next')) or 0) + 1)
if not redis.call('SET', M .. 'username:' .. ARGV[2], id, 'NX') then return 0 end
redis.call('SET', M .. 'user-next', id)
redis.call('ZADD', M .. 'users', id, id)
redis.call('HSET', M .. 'user:' .. id, 'id', id, 'usernameKey', ARGV[2], 'createdAt', ARGV[3], unpack(ARGV, 4))
return tonumber(id)`,
};

/**
 * Migration: a user made elsewhere, with its own id. ARGV = [M, id, lowerCasedName, createdAt,
 * field, json, ...]. Raises user-next to the id. Returns 1, or 0 if the id or the name is taken.
 */
export const IMPORT_USER: ScriptDef = {
  name: 'fhImportUser',
  lua: `
local M, id = ARGV[1], ARGV[2]
if redis.call('EXISTS', M .. 'user:' .. id) == 1 then return 0 end
if not redis.call('SET', M .. 'username:' .. ARGV[3], id, 'NX') then return 0 end
if (tonumber(redis.call('GET', M .. 'user-next')) or 0) < tonumber(id) then redis.call('SET', M .. 'user-next', id) end
redis.call('ZADD', M .. 'users', id, id)
redis.call('HSET', M .. 'user:' .. id, 'id', id, 'usernameKey', ARGV[3], 'createdAt', ARGV[4], unpack(ARGV, 5))
return 1`,
};

/** ARGV = [M, lowerCasedName]. Returns the user's HGETALL, or nil. */
export const USER_BY_NAME: ScriptDef = {
  name: 'fhUserByName',
  lua: `
local id = redis.call('GET', ARGV[1] .. 'username:' .. ARGV[2])
if not id then return false end
return redis.call('HGETALL', ARGV[1] .. 'user:' .. id)`,
};

/** ARGV = [M, offset, limit (-1 = all)]. Returns [total, HGETALL, HGETALL, ...] by id ascending. */
export const LIST_USERS: ScriptDef = {
  name: 'fhListUsers',
  lua: `
local M, offset, limit = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local out = {redis.call('ZCARD', M .. 'users')}
if limit == 0 then return out end
local stop = -1
if limit > 0 then stop = offset + limit - 1 end
for _, id in ipairs(redis.call('ZRANGE', M .. 'users', offset, stop)) do
  out[#out + 1] = redis.call('HGETALL', M .. 'user:' .. id)
end
return out`,
};

/** ARGV = [M, id, field, json-or-empty, ...]; an empty value removes the field. Returns HGETALL or nil. */
export const UPDATE_USER: ScriptDef = {
  name: 'fhUpdateUser',
  lua: `
local key = ARGV[1] .. 'user:' .. ARGV[2]
if redis.call('EXISTS', key) == 0 then return false end
for i = 3, #ARGV, 2 do
  if ARGV[i + 1] == '' then redis.call('HDEL', key, ARGV[i]) else redis.call('HSET', key, ARGV[i], ARGV[i + 1]) end
end
return redis.call('HGETALL', key)`,
};

/** ARGV = [M, id]. Frees the username and leaves every group and room. Returns 1 or 0. */
export const DELETE_USER: ScriptDef = {
  name: 'fhDeleteUser',
  lua: `
local M, id = ARGV[1], ARGV[2]
local key = M .. 'user:' .. id
local name = redis.call('HGET', key, 'usernameKey')
if not name then return 0 end
if redis.call('GET', M .. 'username:' .. name) == id then redis.call('DEL', M .. 'username:' .. name) end
for _, kind in ipairs({'group', 'room'}) do
  local mine = M .. 'user-' .. kind .. 's:' .. id
  for _, x in ipairs(redis.call('ZRANGE', mine, 0, -1)) do redis.call('ZREM', M .. kind .. '-members:' .. x, id) end
  redis.call('DEL', mine)
end
redis.call('DEL', key)
redis.call('ZREM', M .. 'users', id)
return 1`,
};

/** ARGV = [M, id, json, member, ...]. Returns 1, or 0 if the group exists. */
export const CREATE_GROUP: ScriptDef = {
  name: 'fhCreateGroup',
  lua: `${MEMBERSHIP}
local M, id = ARGV[1], ARGV[2]
if redis.call('EXISTS', M .. 'group:' .. id) == 1 then return 0 end
redis.call('ZADD', M .. 'groups', 0, id)
redis.call('SET', M .. 'group:' .. id, ARGV[3])
addMembers(M, 'group', id, 4)
return 1`,
};

/** ARGV = [M, id]. Returns 1, or 0 if there was no such group. */
export const DELETE_GROUP: ScriptDef = {
  name: 'fhDeleteGroup',
  lua: `${MEMBERSHIP}
local M, id = ARGV[1], ARGV[2]
if redis.call('DEL', M .. 'group:' .. id) == 0 then return 0 end
redis.call('ZREM', M .. 'groups', id)
dropMembers(M, 'group', id)
return 1`,
};

/**
 * ARGV = [M, offset, limit (-1 = all)]. Groups by id (byte order, all scores 0).
 * Returns [total, json, members, json, members, ...].
 */
export const LIST_GROUPS: ScriptDef = {
  name: 'fhListGroups',
  lua: `
local M, offset, limit = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local out = {redis.call('ZCARD', M .. 'groups')}
if limit == 0 then return out end
local stop = -1
if limit > 0 then stop = offset + limit - 1 end
for _, id in ipairs(redis.call('ZRANGE', M .. 'groups', offset, stop)) do
  out[#out + 1] = redis.call('GET', M .. 'group:' .. id)
  out[#out + 1] = redis.call('ZRANGE', M .. 'group-members:' .. id, 0, -1)
end
return out`,
};

/** ARGV = [M, id, json, member, ...]: creates or replaces the room and its member list. */
export const PUT_ROOM: ScriptDef = {
  name: 'fhPutRoom',
  lua: `${MEMBERSHIP}
local M, id = ARGV[1], ARGV[2]
dropMembers(M, 'room', id)
redis.call('SET', M .. 'room:' .. id, ARGV[3])
addMembers(M, 'room', id, 4)
return 1`,
};

/** ARGV = [M, kind, id, user]. Returns 0 if the group/room does not exist, else 1 (member now). */
export const ADD_MEMBER: ScriptDef = {
  name: 'fhAddMember',
  lua: `${MEMBERSHIP}
local M, kind, id = ARGV[1], ARGV[2], ARGV[3]
if redis.call('EXISTS', M .. kind .. ':' .. id) == 0 then return 0 end
if redis.call('ZSCORE', M .. kind .. '-members:' .. id, ARGV[4]) then return 1 end
addMembers(M, kind, id, 4)
return 1`,
};

/** ARGV = [M, kind, id, user]. Returns 1 if the user was a member and is removed, else 0. */
export const REMOVE_MEMBER: ScriptDef = {
  name: 'fhRemoveMember',
  lua: `
local M, kind, id, user = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
if redis.call('ZREM', M .. kind .. '-members:' .. id, user) == 0 then return 0 end
redis.call('ZREM', M .. 'user-' .. kind .. 's:' .. user, id)
return 1`,
};

/** ARGV = [M, user]. Returns [json, members, json, members, ...] in join order. */
export const USER_ROOMS: ScriptDef = {
  name: 'fhUserRooms',
  lua: `
local M = ARGV[1]
local out = {}
for _, id in ipairs(redis.call('ZRANGE', M .. 'user-rooms:' .. ARGV[2], 0, -1)) do
  local json = redis.call('GET', M .. 'room:' .. id)
  if json then
    out[#out + 1] = json
    out[#out + 1] = redis.call('ZRANGE', M .. 'room-members:' .. id, 0, -1)
  end
end
return out`,
};

export const ALL_SCRIPTS: readonly ScriptDef[] = [
  APPEND,
  ENQUEUE,
  ACK,
  CLEAR,
  CREATE_USER,
  USER_BY_NAME,
  LIST_USERS,
  UPDATE_USER,
  DELETE_USER,
  CREATE_GROUP,
  DELETE_GROUP,
  LIST_GROUPS,
  PUT_ROOM,
  ADD_MEMBER,
  REMOVE_MEMBER,
  USER_ROOMS,
  IMPORT_USER,
  IMPORT_MESSAGES,
  IMPORT_NOTIFICATIONS,
  RAISE_COUNTER,
];
