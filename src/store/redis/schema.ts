/**
 * The version of the Redis key layout (keys.ts). Redis has no schema to migrate: a store refuses to start on keys
 * written in another layout rather than misread them.
 */
import type { RedisConnection } from './connection.js';

const SCHEMA_VERSION = '1';

/** Records this build's layout version if none is, and fails if another one is. */
export async function checkLayout(conn: RedisConnection): Promise<void> {
  const key = conn.keys.schema;
  await conn.cmd((c) => c.set(key, SCHEMA_VERSION, 'NX'));
  const version = await conn.cmd((c) => c.get(key));
  if (version !== SCHEMA_VERSION) {
    throw new Error(`Redis key layout version ${String(version)} is not the one of this build (${SCHEMA_VERSION})`);
  }
}
