/**
 * Lua scripts of the Redis shop store (../shop/). Each touches one hash slot, except SHOP_BASKET_WRITE, which writes
 * a basket with its abandoned-index entry and expiry entry at once and so runs on a single Redis only (in a
 * Cluster the three are written one after the other: ../shop/baskets.ts).
 */

/**
 * The abandoned index's change for one basket, gated by the basket version it was made for, so that changes
 * arriving out of order (a Cluster writes the index after, or before, the basket) never undo a later one.
 * open-v holds `<version> <member>` of the last change applied. A change older than that one is refused; a change
 * with another member (the basket's created time changed) also removes the old member.
 */
const INDEX_SET = `
local function index_set(zkey, vkey, id, version, member, open)
  local held = redis.call('HGET', vkey, id)
  if held then
    local sp = string.find(held, ' ', 1, true)
    if version < tonumber(string.sub(held, 1, sp - 1)) then return 0 end
    local old = string.sub(held, sp + 1)
    if old ~= member then redis.call('ZREM', zkey, old) end
  end
  if open then redis.call('ZADD', zkey, 0, member) else redis.call('ZREM', zkey, member) end
  redis.call('HSET', vkey, id, version .. ' ' .. member)
  return 1
end
`;

/**
 * KEYS: open zset, open-v hash. ARGV: basket id, version, member, '1' open / '0' not. Returns 1 applied, 0 refused
 * (a change for a later version was applied already).
 */
export const SHOP_INDEX_SET = `${INDEX_SET}
return index_set(KEYS[1], KEYS[2], ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4] == '1')
`;

/**
 * Drops an index member that a reader found stale. KEYS: open zset, open-v hash. ARGV: basket id, version the
 * reader saw (or 'gone': the basket no longer exists), member. A member the basket no longer has (its created time
 * changed) just goes; the basket's own member goes only if no change for a later version was applied.
 */
export const SHOP_INDEX_DROP = `${INDEX_SET}
local held = redis.call('HGET', KEYS[2], ARGV[1])
local sp = held and string.find(held, ' ', 1, true)
if (not held) or string.sub(held, sp + 1) ~= ARGV[3] then
  redis.call('ZREM', KEYS[1], ARGV[3])
  return 1
end
if ARGV[2] == 'gone' then
  redis.call('ZREM', KEYS[1], ARGV[3])
  redis.call('HDEL', KEYS[2], ARGV[1])
  return 1
end
return index_set(KEYS[1], KEYS[2], ARGV[1], tonumber(ARGV[2]), ARGV[3], false)
`;

/**
 * Checkout basket compare-and-set. KEYS: basket hash. ARGV: expected version ('0' = must not exist), basket JSON,
 * expires. Returns the new version, or 0 on conflict.
 */
export const SHOP_BASKET_CAS = `
local v = redis.call('HGET', KEYS[1], 'v')
if (v or '0') ~= ARGV[1] then return 0 end
local nv = tonumber(ARGV[1]) + 1
redis.call('HSET', KEYS[1], 'v', nv, 'd', ARGV[2], 'e', ARGV[3])
return nv
`;

/**
 * SHOP_BASKET_CAS with the abandoned index and the expiry index in the same script (single Redis only: the keys
 * span slots). KEYS: basket hash, open zset, open-v hash, expiry zset. ARGV: expected version, basket JSON, expires,
 * basket id, member, '1' open / '0' not, expiry-index member. Returns the new version, or 0 on conflict.
 */
export const SHOP_BASKET_WRITE = `${INDEX_SET}
local v = redis.call('HGET', KEYS[1], 'v')
if (v or '0') ~= ARGV[1] then return 0 end
local nv = tonumber(ARGV[1]) + 1
redis.call('HSET', KEYS[1], 'v', nv, 'd', ARGV[2], 'e', ARGV[3])
index_set(KEYS[2], KEYS[3], ARGV[4], nv, ARGV[5], ARGV[6] == '1')
redis.call('ZADD', KEYS[4], ARGV[3], ARGV[7])
return nv
`;

/**
 * Deletes a checkout basket if expired at `now`. KEYS: basket hash. ARGV: now. Returns {1, basket JSON} deleted,
 * {0} absent, or {2, expires} not expired yet.
 */
export const SHOP_BASKET_PURGE = `
local r = redis.call('HMGET', KEYS[1], 'd', 'e')
if not r[1] then return {0} end
if tonumber(r[2]) <= tonumber(ARGV[1]) then
  redis.call('DEL', KEYS[1])
  return {1, r[1]}
end
return {2, r[2]}
`;

/**
 * Points an external id to a basket if it points to the expected one, or nowhere. KEYS: the external id's key.
 * ARGV: basket id, expected basket id ('' = none). Returns what it points to afterwards.
 */
export const SHOP_EXTERNAL_CLAIM = `
local cur = redis.call('GET', KEYS[1])
if (not cur) or cur == ARGV[2] then
  redis.call('SET', KEYS[1], ARGV[1])
  return ARGV[1]
end
return cur
`;

/** Sets KEYS[1] to ARGV[2] if it holds ARGV[1]. Returns 1 written, 0 not. */
export const SET_IF_EQUAL = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
return 1
`;

/**
 * Loads offers, all or nothing. KEYS: offers hash, newest hash, ids zset. ARGV: n, then four per offer: field
 * (`<byte length of id>:<id><version>`), id, version, canonical JSON. Returns 0, or the 1-based position of the first offer whose
 * version is held with other content (then nothing is written).
 */
export const SHOP_OFFERS_PUT = `
local n = tonumber(ARGV[1])
for i = 1, n do
  local a = 2 + (i - 1) * 4
  local held = redis.call('HGET', KEYS[1], ARGV[a])
  if held and held ~= ARGV[a + 3] then return i end
end
for i = 1, n do
  local a = 2 + (i - 1) * 4
  if redis.call('HSETNX', KEYS[1], ARGV[a], ARGV[a + 3]) == 1 then
    redis.call('HSET', KEYS[2], ARGV[a + 1], ARGV[a + 2])
    redis.call('ZADD', KEYS[3], 0, ARGV[a + 1])
  end
end
return 0
`;

/**
 * The newest version of each offer id. KEYS: offers hash, newest hash. ARGV: offer ids. Returns one entry per id:
 * the offer JSON, or false.
 */
export const SHOP_OFFERS_NEWEST = `
local out = {}
for i, id in ipairs(ARGV) do
  local version = redis.call('HGET', KEYS[2], id)
  out[i] = version and redis.call('HGET', KEYS[1], #id .. ':' .. id .. version) or false
end
return out
`;

/**
 * Creates or replaces subscriptions, all or nothing. KEYS: the partner's name hash. ARGV: n, then four per
 * subscription: its key (in the name hash's slot), id, name, JSON. Returns false, or a name held by a subscription
 * outside the call (then nothing is written). Names may move between the call's subscriptions.
 */
export const SHOP_SUBSCRIPTIONS_PUT = `
local n = tonumber(ARGV[1])
local ids = {}
for i = 1, n do ids[ARGV[3 + (i - 1) * 4]] = true end
for i = 1, n do
  local a = 2 + (i - 1) * 4
  local owner = redis.call('HGET', KEYS[1], ARGV[a + 2])
  if owner and owner ~= ARGV[a + 1] and not ids[owner] then return ARGV[a + 2] end
end
for i = 1, n do
  local a = 2 + (i - 1) * 4
  local old = redis.call('GET', ARGV[a])
  if old then
    local name = cjson.decode(old)['name']
    if redis.call('HGET', KEYS[1], name) == ARGV[a + 1] then redis.call('HDEL', KEYS[1], name) end
  end
end
for i = 1, n do
  local a = 2 + (i - 1) * 4
  redis.call('SET', ARGV[a], ARGV[a + 3])
  redis.call('HSET', KEYS[1], ARGV[a + 2], ARGV[a + 1])
end
return false
`;
