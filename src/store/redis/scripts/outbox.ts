/**
 * Lua scripts of the Redis outbox (../outbox.ts): one hash slot ({ob}); message hashes and per-topic queues are
 * built from ARGV[1] (the slot's prefix).
 */

/**
 * KEYS: dedupe hash, sequence, topic set. ARGV: prefix, then per message: topic, key, payload, availableAt.
 * The dedupe field is topic NUL key; the first enqueue of a (topic, key) wins.
 */
export const OUTBOX_ENQUEUE = `
local prefix = ARGV[1]
for i = 2, #ARGV, 4 do
  local topic, key, payload, at = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  local field = topic .. '\\0' .. key
  if redis.call('HEXISTS', KEYS[1], field) == 0 then
    local id = string.format('%016d', redis.call('INCR', KEYS[2]))
    redis.call('HSET', KEYS[1], field, id)
    redis.call('HSET', prefix .. 'm:' .. id, 't', topic, 'k', key, 'p', payload, 'a', 0)
    redis.call('ZADD', prefix .. 'q:' .. topic, at, id)
    redis.call('SADD', KEYS[3], topic)
  end
end
return 1
`;

/**
 * KEYS: topic set. ARGV: prefix, now, limit, leaseMs, owner, then the topics (none: every topic).
 * A queue's score is when the message can next be claimed: availableAt, or the end of the current lease.
 * Returns a flat list: id, topic, key, payload, attempts per claimed message, earliest first.
 */
export const OUTBOX_CLAIM = `
local prefix, now, limit, lease, owner = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5]
local topics = {}
if #ARGV > 5 then
  for i = 6, #ARGV do topics[#topics + 1] = ARGV[i] end
else
  topics = redis.call('SMEMBERS', KEYS[1])
end
local candidates = {}
for _, topic in ipairs(topics) do
  local found = redis.call('ZRANGEBYSCORE', prefix .. 'q:' .. topic, '-inf', now, 'WITHSCORES', 'LIMIT', 0, limit)
  for j = 1, #found, 2 do
    candidates[#candidates + 1] = { id = found[j], score = tonumber(found[j + 1]), topic = topic }
  end
end
table.sort(candidates, function(a, b)
  if a.score ~= b.score then return a.score < b.score end
  return a.id < b.id
end)
local out = {}
for n = 1, math.min(limit, #candidates) do
  local c = candidates[n]
  local m = prefix .. 'm:' .. c.id
  local attempts = redis.call('HINCRBY', m, 'a', 1)
  redis.call('HSET', m, 'o', owner, 'until', now + lease)
  redis.call('ZADD', prefix .. 'q:' .. c.topic, now + lease, c.id)
  local r = redis.call('HMGET', m, 'k', 'p')
  out[#out + 1] = c.id
  out[#out + 1] = c.topic
  out[#out + 1] = r[1]
  out[#out + 1] = r[2]
  out[#out + 1] = attempts
end
return out
`;

/** KEYS: dedupe hash, topic set. ARGV: prefix, id, owner. Deletes the message if owner holds its claim. */
export const OUTBOX_COMPLETE = `
local prefix, id = ARGV[1], ARGV[2]
local m = prefix .. 'm:' .. id
local r = redis.call('HMGET', m, 'o', 't', 'k')
if r[1] ~= ARGV[3] then return 0 end
local q = prefix .. 'q:' .. r[2]
redis.call('DEL', m)
redis.call('ZREM', q, id)
redis.call('HDEL', KEYS[1], r[2] .. '\\0' .. r[3])
if redis.call('ZCARD', q) == 0 then redis.call('SREM', KEYS[2], r[2]) end
return 1
`;

/** KEYS: dedupe hash (routes the call to the outbox slot). ARGV: prefix, id, owner, retryAt, error. Hands the message back for retryAt if owner holds its claim. */
export const OUTBOX_RETRY = `
local prefix, id = ARGV[1], ARGV[2]
local m = prefix .. 'm:' .. id
local r = redis.call('HMGET', m, 'o', 't')
if r[1] ~= ARGV[3] then return 0 end
redis.call('HDEL', m, 'o', 'until')
redis.call('HSET', m, 'err', ARGV[5])
redis.call('ZADD', prefix .. 'q:' .. r[2], ARGV[4], id)
return 1
`;

/**
 * KEYS: topic set. ARGV: prefix, now. A queue's score is when its message can next be claimed (availableAt, or
 * the end of its lease), so the stats read the queues alone. Returns depth, ready, and the oldest ready score (nil
 * when none is ready).
 */
export const OUTBOX_STATS = `
local prefix, now = ARGV[1], tonumber(ARGV[2])
local depth, ready, oldest = 0, 0, false
for _, topic in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local q = prefix .. 'q:' .. topic
  depth = depth + redis.call('ZCARD', q)
  ready = ready + redis.call('ZCOUNT', q, '-inf', now)
  local first = redis.call('ZRANGEBYSCORE', q, '-inf', now, 'WITHSCORES', 'LIMIT', 0, 1)
  if #first > 0 then
    local score = tonumber(first[2])
    if oldest == false or score < oldest then oldest = score end
  end
end
return { depth, ready, oldest }
`;
