/**
 * Lua scripts of the Redis baskets (../baskets.ts): the compare-and-set of one basket, the reads and writes of a
 * turn in one call (on a single node; per node in a Cluster, keys in ARGV), and the purge of an expired basket.
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
