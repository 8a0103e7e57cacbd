/**
 * Imports products from a JSON-lines file straight into the configured store:
 * `npm run catalog:import -- file.jsonl [--partner demo]`. All or nothing: one bad line and nothing is written.
 */
import { runImport } from './import-lines.js';
import { parseProductLines } from '../src/service/catalogue.js';
import type { ProductInput } from '../src/domain/catalogue.js';

await runImport<ProductInput>({
  name: 'catalog:import',
  parse(text) {
    const { products, errors } = parseProductLines(text);
    // the catalogue's load refuses no line of its own: the records need no line number
    return { items: products.map((value) => ({ line: 0, value })), errors };
  },
  async load(store, partnerId, items) {
    const n = await store.upsertProducts(partnerId, items.map((i) => i.value));
    return `imported ${n} product(s) into the catalogue of ${partnerId}`;
  },
});
