/** Opens the store named by STORE_URL. */
import { ConfigError } from '../config.js';
import type { Store } from './store.js';

export async function openStore(url: string): Promise<Store> {
  if (url.startsWith('sqlite:')) {
    const file = url.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, '');
    if (file === '') throw new ConfigError('STORE_URL=sqlite: needs a file path, e.g. sqlite:./data/basket.db');
    const { openSqliteStore } = await import('./sqlite.js');
    return openSqliteStore(file);
  }
  throw new ConfigError(`STORE_URL=${JSON.stringify(url.replace(/\/\/[^@/]*@/, '//***@'))} names a store this build does not support yet (supported: sqlite:<file>)`);
}
