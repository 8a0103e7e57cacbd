/**
 * Lua scripts of the Redis idempotency records (../idempotency.ts).
 */

/**
 * KEYS: idempotency hash. ARGV: fingerprint, now, ttlMs, leaseMs, gc ttl ms, holder token (kept as field 'h').
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
redis.call('HSET', KEYS[1], 'fp', ARGV[1], 'st', 'running', 'lease', now + tonumber(ARGV[4]), 'e', now + tonumber(ARGV[3]), 'h', ARGV[6])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return {'new'}
`;

/**
 * KEYS: idempotency hash. ARGV: response JSON, holder token. Only the holder of the running record finishes it
 * (a caller whose lease lapsed must not finish the hold of the one that took over). Returns 1 if it did, else 0.
 */
export const IDEMPOTENCY_FINISH = `
local r = redis.call('HMGET', KEYS[1], 'st', 'h')
if r[1] ~= 'running' or r[2] ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], 'st', 'done', 'resp', ARGV[1])
redis.call('HDEL', KEYS[1], 'lease')
return 1
`;

/** KEYS: idempotency hash. ARGV: holder token. Deletes the running record if that holder holds it: 1, else 0. */
export const IDEMPOTENCY_ABANDON = `
local r = redis.call('HMGET', KEYS[1], 'st', 'h')
if r[1] ~= 'running' or r[2] ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
return 1
`;
