/**
 * Lua scripts of the Redis catalogue (../catalogue.ts).
 */

/** KEYS: product stock hash. ARGV: data, stock ('' = unlimited). Keeps the units reserved. */
export const PRODUCT_UPSERT = `
redis.call('HSET', KEYS[1], 'd', ARGV[1], 's', ARGV[2])
redis.call('HSETNX', KEYS[1], 'r', 0)
return 1
`;
