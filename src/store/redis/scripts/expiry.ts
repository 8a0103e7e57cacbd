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

/**
 * Drops an expiry-index entry only while it is still due: a write that re-created the record between the purge's
 * look at it and this drop has moved the entry to its new expiry, and keeps it. KEYS: the index. ARGV: member, now.
 */
export const INDEX_DROP_IF_DUE = `
local s = redis.call('ZSCORE', KEYS[1], ARGV[1])
if s and tonumber(s) <= tonumber(ARGV[2]) then return redis.call('ZREM', KEYS[1], ARGV[1]) end
return 0
`;
