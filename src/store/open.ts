/** Opens the store named by STORE_URL. */
import { ConfigError, readPgPoolSize } from '../config.js';
import type { Store } from './store.js';

export interface OpenStoreOptions {
  /** PostgreSQL pool size; default: PG_POOL_SIZE from the environment, else 10. */
  pgPoolSize?: number;
}

export async function openStore(url: string, options: OpenStoreOptions = {}): Promise<Store> {
  if (url.startsWith('sqlite:')) {
    const file = url.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, '');
    if (file === '') throw new ConfigError('STORE_URL=sqlite: needs a file path, e.g. sqlite:./data/basket.db');
    const { openSqliteStore } = await import('./sqlite/index.js');
    return openSqliteStore(file);
  }
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) {
    const { openPostgresStore } = await import('./postgres/index.js');
    return openPostgresStore(url, { poolSize: options.pgPoolSize ?? readPgPoolSize(process.env) });
  }
  if (url.startsWith('redis://') || url.startsWith('rediss://') || url.startsWith('redis-cluster://')) {
    const { openRedisStore } = await import('./redis/index.js');
    return openRedisStore(url);
  }
  throw new ConfigError(
    `STORE_URL=${JSON.stringify(url.replace(/\/\/[^@/]*@/, '//***@'))} names a store this build does not support (supported: sqlite:<file>, postgres://..., redis://..., rediss://..., redis-cluster://host:port,host:port)`,
  );
}
