/**
 * Lua scripts of the Redis transfer tokens (../transfers.ts).
 */

/** Consumes a transfer token if unexpired. KEYS: token hash. ARGV: now. Returns {p, u, url, e} or false. */
export const TRANSFER_TAKE = `
local r = redis.call('HMGET', KEYS[1], 'p', 'u', 'url', 'e')
if not r[4] or tonumber(r[4]) <= tonumber(ARGV[1]) then return false end
redis.call('DEL', KEYS[1])
return r
`;
