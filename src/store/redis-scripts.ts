/**
 * Lua scripts of the Redis adapter. Rule for Redis Cluster: every script touches keys of ONE hash slot only.
 * Keys passed in KEYS share one hash tag; the few keys a script builds itself (outbox messages and queues) are
 * built from a prefix that carries the same hash tag as KEYS[1], so they live in the same slot. The exceptions take
 * the baskets of many users: BASKETS_CAS on a single Redis node only; BASKETS_READ (on either) and NODE_BASKETS_CAS
 * on one node of a Cluster, for the baskets that node serves, their keys passed in ARGV (declared keys of several
 * slots are refused before a script runs; keys it reaches itself may span the node's slots).
 *
 * Numbers: times are epoch milliseconds; Lua numbers are doubles, exact far beyond any realistic epoch ms.
 */

/**
 * Basket compare-and-set. KEYS: basket hash. ARGV: expected version ('0' = must not exist), data, expires,
 * has_checkout ('1'/'0'), gc ttl ms, channel, notification payload. Returns the new version, or 0 on conflict.
 */
export const BASKET_CAS = `
local v = redis.call('HGET', KEYS[1], 'v')
if (v or '0') ~= ARGV[1] then return 0 end
local nv = tonumber(ARGV[1]) + 1
redis.call('HSET', KEYS[1], 'v', nv, 'd', ARGV[2], 'e', ARGV[3], 'c', ARGV[4])
if ARGV[4] == '1' then redis.call('PERSIST', KEYS[1]) else redis.call('PEXPIRE', KEYS[1], ARGV[5]) end
redis.call('PUBLISH', ARGV[6], ARGV[7])
return nv
`;

/**
 * Reads several baskets at once. ARGV: basket hashes (not declared as KEYS: in Redis Cluster they span slots, so
 * the call goes to one master with the baskets it serves, and a key it does not serve fails the call). Returns
 * their version and data, two values per key, false for an absent basket.
 */
export const BASKETS_READ = `
local out = {}
for i, key in ipairs(ARGV) do
  local r = redis.call('HMGET', key, 'v', 'd')
  out[2 * i - 1] = r[1]
  out[2 * i] = r[2]
end
return out
`;

/**
 * BASKET_CAS for several baskets on one Cluster node. ARGV: channel, the number of baskets n, their n hashes, then
 * six per basket: expected version, data, expires, has_checkout, gc ttl ms, notification payload. Returns each
 * basket's new version, or 0 where it conflicted. Every key is read before anything is written: a script is not
 * undone when it fails, and a key this node does not serve (moved by a resharding) fails the call at its first
 * access, so that a failed call has written nothing.
 */
export const NODE_BASKETS_CAS = `
local n = tonumber(ARGV[2])
for i = 1, n do redis.call('EXISTS', ARGV[2 + i]) end
local out = {}
for i = 1, n do
  local key = ARGV[2 + i]
  local a = 3 + n + (i - 1) * 6
  local v = redis.call('HGET', key, 'v')
  if (v or '0') ~= ARGV[a] then
    out[i] = 0
  else
    local nv = tonumber(ARGV[a]) + 1
    redis.call('HSET', key, 'v', nv, 'd', ARGV[a + 1], 'e', ARGV[a + 2], 'c', ARGV[a + 3])
    if ARGV[a + 3] == '1' then redis.call('PERSIST', key) else redis.call('PEXPIRE', key, ARGV[a + 4]) end
    redis.call('PUBLISH', ARGV[1], ARGV[a + 5])
    out[i] = nv
  end
end
return out
`;

/**
 * BASKET_CAS for several baskets at once, with the expiry index written in the same call (a single Redis node
 * only). KEYS: the expiry index, then the basket hashes. ARGV: channel, then seven per basket: expected version,
 * data, expires, has_checkout, gc ttl ms, notification payload, expiry index member. Returns each basket's new
 * version, or 0 where it conflicted.
 */
export const BASKETS_CAS = `
local out = {}
for i = 2, #KEYS do
  local a = 2 + (i - 2) * 7
  local key = KEYS[i]
  local v = redis.call('HGET', key, 'v')
  if (v or '0') ~= ARGV[a] then
    out[i - 1] = 0
  else
    local nv = tonumber(ARGV[a]) + 1
    redis.call('HSET', key, 'v', nv, 'd', ARGV[a + 1], 'e', ARGV[a + 2], 'c', ARGV[a + 3])
    if ARGV[a + 3] == '1' then
      redis.call('PERSIST', key)
      redis.call('ZREM', KEYS[1], ARGV[a + 6])
    else
      redis.call('PEXPIRE', key, ARGV[a + 4])
      redis.call('ZADD', KEYS[1], ARGV[a + 2], ARGV[a + 6])
    end
    redis.call('PUBLISH', ARGV[1], ARGV[a + 5])
    out[i - 1] = nv
  end
end
return out
`;

/**
 * Deletes the basket if it is expired at `now` and holds no checkout. KEYS: basket hash. ARGV: now.
 * Returns 1 deleted, 0 absent, -1 held by a checkout, or its expiry (not yet expired).
 */
export const BASKET_PURGE = `
local r = redis.call('HMGET', KEYS[1], 'e', 'c')
if not r[1] then return 0 end
if r[2] == '1' then return -1 end
if tonumber(r[1]) <= tonumber(ARGV[1]) then redis.call('DEL', KEYS[1]); return 1 end
return r[1]
`;

/** KEYS: product stock hash. ARGV: data, stock ('' = unlimited). Keeps the units reserved. */
export const PRODUCT_UPSERT = `
redis.call('HSET', KEYS[1], 'd', ARGV[1], 's', ARGV[2])
redis.call('HSETNX', KEYS[1], 'r', 0)
return 1
`;

/**
 * Reserves one line, once per reservation id. KEYS: product stock hash, line record (same slot).
 * ARGV: count, gc ttl ms. Returns the outcome: 'n' (unlimited), the count, or minus the count.
 * A line record that exists (reserved, or a tombstone left by an earlier release/commit) is returned as is.
 */
export const LINE_RESERVE = `
local o = redis.call('HGET', KEYS[2], 'o')
if o then return o end
local count = tonumber(ARGV[1])
local p = redis.call('HMGET', KEYS[1], 's', 'r')
local out
if not p[1] then
  out = tostring(-count)
elseif p[1] == '' then
  out = 'n'
elseif tonumber(p[1]) - tonumber(p[2] or '0') >= count then
  redis.call('HINCRBY', KEYS[1], 'r', count)
  out = tostring(count)
else
  out = tostring(-count)
end
redis.call('HSET', KEYS[2], 'o', out, 'st', 'reserved')
redis.call('PEXPIRE', KEYS[2], ARGV[2])
return out
`;

/**
 * Releases or commits one line, once. KEYS: product stock hash, line record. ARGV: 'released'|'committed',
 * count, gc ttl ms. A line never reserved gets a tombstone, so that a late reserve of it reserves nothing.
 * Returns 1 when it acted.
 */
export const LINE_SETTLE = `
local st = redis.call('HGET', KEYS[2], 'st')
if not st then
  redis.call('HSET', KEYS[2], 'o', tostring(-tonumber(ARGV[2])), 'st', ARGV[1])
  redis.call('PEXPIRE', KEYS[2], ARGV[3])
  return 0
end
if st ~= 'reserved' then return 0 end
local n = tonumber(redis.call('HGET', KEYS[2], 'o'))
if n and n > 0 then
  local p = redis.call('HMGET', KEYS[1], 's', 'r')
  if p[2] then
    redis.call('HSET', KEYS[1], 'r', math.max(tonumber(p[2]) - n, 0))
    if ARGV[1] == 'committed' and p[1] and p[1] ~= '' then
      redis.call('HSET', KEYS[1], 's', math.max(tonumber(p[1]) - n, 0))
    end
  end
end
redis.call('HSET', KEYS[2], 'st', ARGV[1])
return 1
`;

/**
 * Creates the reservation record if absent. KEYS: record hash. ARGV: requested lines (JSON), gc ttl ms.
 * Returns {state, requested lines, outcome or false}.
 */
export const RESERVATION_BEGIN = `
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('HSET', KEYS[1], 'st', 'reserved', 'req', ARGV[1])
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
local r = redis.call('HMGET', KEYS[1], 'st', 'req', 'out')
return {r[1], r[2], r[3]}
`;

/** Stores the outcome unless one is stored already. KEYS: record hash. ARGV: outcome JSON. Returns the stored one. */
export const RESERVATION_FINISH = `
redis.call('HSETNX', KEYS[1], 'out', ARGV[1])
return redis.call('HGET', KEYS[1], 'out')
`;

/**
 * Moves the reservation out of 'reserved'. KEYS: record hash. ARGV: 'released'|'committed'.
 * Returns false when unknown, else {1 if this call moved it else 0, the state now, requested lines}.
 */
export const RESERVATION_SETTLE = `
local r = redis.call('HMGET', KEYS[1], 'st', 'req')
if not r[1] then return false end
if r[1] == 'reserved' then
  redis.call('HSET', KEYS[1], 'st', ARGV[1])
  return {1, ARGV[1], r[2]}
end
return {0, r[1], r[2]}
`;

/**
 * Puts one committed line's units back on stock, once. KEYS: product stock hash, line record. Unlimited ('') or
 * deleted products are left alone. Returns 1 when it acted.
 */
export const LINE_RETURN = `
if redis.call('HGET', KEYS[2], 'st') ~= 'committed' then return 0 end
local n = tonumber(redis.call('HGET', KEYS[2], 'o'))
if n and n > 0 then
  local s = redis.call('HGET', KEYS[1], 's')
  if s and s ~= '' then redis.call('HSET', KEYS[1], 's', tonumber(s) + n) end
end
redis.call('HSET', KEYS[2], 'st', 'returned')
return 1
`;

/**
 * Moves the reservation from 'committed' to 'returned'. KEYS: record hash.
 * Returns false when unknown, else {1 if this call moved it else 0, the state now, requested lines}.
 */
export const RESERVATION_RETURN = `
local r = redis.call('HMGET', KEYS[1], 'st', 'req')
if not r[1] then return false end
if r[1] == 'committed' then
  redis.call('HSET', KEYS[1], 'st', 'returned')
  return {1, 'returned', r[2]}
end
return {0, r[1], r[2]}
`;

/** Consumes a transfer token if unexpired. KEYS: token hash. ARGV: now. Returns {p, u, url, e} or false. */
export const TRANSFER_TAKE = `
local r = redis.call('HMGET', KEYS[1], 'p', 'u', 'url', 'e')
if not r[4] or tonumber(r[4]) <= tonumber(ARGV[1]) then return false end
redis.call('DEL', KEYS[1])
return r
`;

/**
 * Deletes a record (transfer token or idempotency record, field 'e' = expiry) if expired at `now`.
 * KEYS: record hash. ARGV: now. Returns 1 deleted, 0 absent, or its expiry.
 */
export const EXPIRING_PURGE = `
local e = redis.call('HGET', KEYS[1], 'e')
if not e then return 0 end
if tonumber(e) <= tonumber(ARGV[1]) then redis.call('DEL', KEYS[1]); return 1 end
return e
`;

/**
 * KEYS: idempotency hash. ARGV: fingerprint, now, ttlMs, leaseMs, gc ttl ms.
 * Returns {'new'} | {'running'} | {'mismatch'} | {'done', response JSON}.
 */
export const IDEMPOTENCY_BEGIN = `
local now = tonumber(ARGV[2])
local r = redis.call('HMGET', KEYS[1], 'fp', 'st', 'resp', 'lease', 'e')
if r[1] and tonumber(r[5]) > now then
  if r[1] ~= ARGV[1] then return {'mismatch'} end
  if r[2] == 'done' then return {'done', r[3]} end
  if r[4] and tonumber(r[4]) > now then return {'running'} end
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'fp', ARGV[1], 'st', 'running', 'lease', now + tonumber(ARGV[4]), 'e', now + tonumber(ARGV[3]))
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return {'new'}
`;

/** KEYS: idempotency hash. ARGV: response JSON. */
export const IDEMPOTENCY_FINISH = `
if redis.call('HGET', KEYS[1], 'st') ~= 'running' then return 0 end
redis.call('HSET', KEYS[1], 'st', 'done', 'resp', ARGV[1])
redis.call('HDEL', KEYS[1], 'lease')
return 1
`;

/** KEYS: idempotency hash. */
export const IDEMPOTENCY_ABANDON = `
if redis.call('HGET', KEYS[1], 'st') ~= 'running' then return 0 end
redis.call('DEL', KEYS[1])
return 1
`;

/** KEYS: order key, user index. ARGV: order JSON, created, orderNo. Returns 0 if the order exists. */
export const ORDER_CREATE = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3])
return 1
`;

/**
 * Compare-and-set of an order. KEYS: order key, old user index, new user index. ARGV: expected JSON, new JSON,
 * created, orderNo. Returns 1 written, 0 conflict.
 */
export const ORDER_CAS = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
redis.call('ZREM', KEYS[2], ARGV[4])
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[4])
return 1
`;

/** Deletes KEYS[1] if it holds ARGV[1]. */
export const DELETE_IF_EQUAL = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

// --- outbox: one hash slot ({ob}); message hashes and per-topic queues are built from ARGV[1] (the slot's prefix)

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
