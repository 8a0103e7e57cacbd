/**
 * Lua scripts of the Redis stock reservations (../reservations.ts): the record of a reservation on its own slot, and
 * each line on its product's slot, every step idempotent per reservation id.
 */

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
