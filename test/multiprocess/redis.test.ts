/** Three API processes and several store-only processes on one Redis (own key prefix, deleted afterwards). */
import { deletePrefix, newPrefix, REDIS_URL } from '../store/helpers/services.js';
import { multiProcessSuite } from './helpers.js';

multiProcessSuite('Redis', async () => {
  const prefix = newPrefix();
  const url = new URL(REDIS_URL);
  url.searchParams.set('prefix', prefix);
  return { url: url.toString(), cleanup: () => deletePrefix(REDIS_URL, prefix) };
});
