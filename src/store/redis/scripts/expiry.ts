/**
 * Lua scripts of the Redis purge of expiring records (../expiry.ts).
 */

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
