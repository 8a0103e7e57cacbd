/**
 * Lua scripts of the Redis orders (../orders.ts).
 */

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
