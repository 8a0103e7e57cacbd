/**
 * Lua scripts of the Redis adapter, one file per concern, used as `scripts.NAME`. Rule for Redis Cluster: every
 * script touches keys of ONE hash slot only. Keys passed in KEYS share one hash tag; the few keys a script builds
 * itself (outbox messages and queues) are built from a prefix that carries the same hash tag as KEYS[1], so they
 * live in the same slot. The exceptions take the baskets of many users: BASKETS_CAS on a single Redis node only;
 * BASKETS_READ (on either) and NODE_BASKETS_CAS on one node of a Cluster, for the baskets that node serves, their
 * keys passed in ARGV (declared keys of several slots are refused before a script runs; keys it reaches itself may
 * span the node's slots).
 *
 * Numbers: times are epoch milliseconds; Lua numbers are doubles, exact far beyond any realistic epoch ms.
 */

export * from './baskets.js';
export * from './catalogue.js';
export * from './events.js';
export * from './expiry.js';
export * from './idempotency.js';
export * from './orders.js';
export * from './outbox.js';
export * from './reservations.js';
export * from './transfers.js';
export * from './shop.js';
