// The Lua scripts of the cluster. Each runs atomically in Redis, which is what makes a bus number,
// a heartbeat or a node's removal happen once however many nodes race for it. Times are Redis's own
// (TIME), so the nodes' clocks need not agree.

export interface ClusterScript {
  name: string;
  lua: string;
}

const now = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

/** KEYS: bus-seq:<channel>, bus-epoch. ARGV: pub/sub channel, a fresh epoch in case none exists, json. */
export const BUS_PUBLISH: ClusterScript = {
  name: 'fhBusPublish',
  lua: `local seq = redis.call('INCR', KEYS[1])
local epoch = redis.call('GET', KEYS[2])
if not epoch then
  epoch = ARGV[2]
  redis.call('SET', KEYS[2], epoch)
end
redis.call('PUBLISH', ARGV[1], epoch .. ' ' .. seq .. ' ' .. ARGV[3])
return seq`,
};

/**
 * KEYS: nodes. ARGV: node id, time to live (ms). Returns 1 when the node was not registered (first
 * beat, or others took it for dead): its caller must then write its users again.
 */
export const HEARTBEAT: ClusterScript = {
  name: 'fhHeartbeat',
  lua: `${now}
return redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])`,
};

/**
 * Removes the nodes whose heartbeat expired, with their users; returns their ids. Whoever removes
 * a node announces it, so each dead node is announced once. KEYS: nodes. ARGV: node key prefix.
 */
export const REAP: ClusterScript = {
  name: 'fhReap',
  lua: `${now}
local dead = redis.call('ZRANGE', KEYS[1], '-inf', now, 'BYSCORE')
for _, id in ipairs(dead) do
  redis.call('ZREM', KEYS[1], id)
  redis.call('DEL', ARGV[1] .. id)
end
return dead`,
};

/**
 * What every live node holds: a flat list of node id, then its hash as field/value pairs, then '' as
 * the separator. KEYS: nodes. ARGV: node key prefix.
 */
export const VIEW: ClusterScript = {
  name: 'fhView',
  lua: `${now}
local out = {}
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], now, '+inf', 'BYSCORE')) do
  out[#out + 1] = id
  for _, v in ipairs(redis.call('HGETALL', ARGV[1] .. id)) do out[#out + 1] = v end
  out[#out + 1] = ''
end
return out`,
};

/** A user's sessions on the live nodes other than this one. KEYS: nodes. ARGV: node key prefix, this node, user. */
export const CONNECTIONS_ELSEWHERE: ClusterScript = {
  name: 'fhConnectionsElsewhere',
  lua: `${now}
local n = 0
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], now, '+inf', 'BYSCORE')) do
  if id ~= ARGV[2] then n = n + tonumber(redis.call('HGET', ARGV[1] .. id, ARGV[3]) or '0') end
end
return n`,
};

/** One failed attempt in a fixed window. KEYS: the window's counter. ARGV: window length (ms). Returns the count. */
export const COUNT_FAILURE: ClusterScript = {
  name: 'fhCountFailure',
  lua: `local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n`,
};

export const CLUSTER_SCRIPTS = [BUS_PUBLISH, HEARTBEAT, REAP, VIEW, CONNECTIONS_ELSEWHERE, COUNT_FAILURE];
