/** Three API processes and several store-only processes on one PostgreSQL schema (fresh, dropped afterwards). */
import { dropSchema, newSchema, pgUrlWithSchema } from '../store/helpers/services.js';
import { multiProcessSuite } from './helpers.js';

multiProcessSuite('PostgreSQL', async () => {
  const schema = newSchema();
  return { url: pgUrlWithSchema(schema), cleanup: () => dropSchema(schema) };
});
