/** Opens the store named by STORE_URL. */
import { ConfigError, readPgPoolSize, readStoreTimeout } from '../config.js';
import type { Store } from './store.js';

export interface OpenStoreOptions {
  /** PostgreSQL pool size; default: PG_POOL_SIZE from the environment, else 10. */
  pgPoolSize?: number;
  /**
   * Deadline of every store call, in ms. SQLite: the wait for another process's write lock; PostgreSQL: statement,
   * query and connect timeouts, 5 × for the wait for a free pool connection; Redis: command and connection.
   * Default: STORE_TIMEOUT from the environment, else 1 s.
   */
  timeoutMs?: number;
}

export async function openStore(url: string, options: OpenStoreOptions = {}): Promise<Store> {
  const timeoutMs = options.timeoutMs ?? readStoreTimeout(process.env);
  if (url.startsWith('sqlite:')) {
    const file = url.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, '');
    if (file === '') throw new ConfigError('STORE_URL=sqlite: needs a file path, e.g. sqlite:./data/basket.db');
    const { openSqliteStore } = await import('./sqlite/index.js');
    return openSqliteStore(file, { lockTimeoutMs: timeoutMs });
  }
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) {
    const { openPostgresStore } = await import('./postgres/index.js');
    return openPostgresStore(url, {
      poolSize: options.pgPoolSize ?? readPgPoolSize(process.env),
      connectTimeoutMs: timeoutMs,
      statementTimeoutMs: timeoutMs,
    });
  }
  if (url.startsWith('redis://') || url.startsWith('rediss://') || url.startsWith('redis-cluster://')) {
    const { openRedisStore } = await import('./redis/index.js');
    return openRedisStore(url, { commandTimeoutMs: timeoutMs, connectTimeoutMs: timeoutMs });
  }
  throw new ConfigError(
    `STORE_URL=${JSON.stringify(url.replace(/\/\/[^@/]*@/, '//***@'))} names a store this build does not support (supported: sqlite:<file>, postgres://..., redis://..., rediss://..., redis-cluster://host:port,host:port)`,
  );
}
