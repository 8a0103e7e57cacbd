/**
 * Imports products from a JSON-lines file straight into the configured store:
 * `npm run catalog:import -- file.jsonl [--partner demo]`. All or nothing: one bad line and nothing is written.
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { configOrFail, failer } from './cli.js';
import { parseProductLines } from '../src/service/catalogue.js';
import { openStore } from '../src/store/open.js';

const fail: (message: string) => never = failer('catalog:import');

const { values, positionals } = parseArgs({ allowPositionals: true, options: { partner: { type: 'string' } } });
const file = positionals[0];
if (!file || positionals.length > 1) fail('usage: npm run catalog:import -- <file.jsonl> [--partner <id>]');

const config = configOrFail(fail);
const partnerId = values.partner ?? (config.partners.length === 1 ? config.partners[0]!.id : undefined);
if (!partnerId) fail(`several partners are configured; name one with --partner (${config.partners.map((p) => p.id).join(', ')})`);
if (!config.partners.some((p) => p.id === partnerId)) fail(`no partner ${partnerId}`);

let text: string;
try {
  text = await readFile(file, 'utf8');
} catch (err) {
  fail(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
}
const { products, errors } = parseProductLines(text);
if (errors.length > 0) {
  for (const e of errors.slice(0, 50)) console.error(`${file}:${e.line}: ${e.message}`);
  fail(`${errors.length} invalid line(s); nothing imported`);
}
// The whole file is one upsert: a request's deadline (STORE_TIMEOUT) is too short for a large catalogue.
const store = await openStore(config.storeUrl, { timeoutMs: Math.max(config.storeTimeoutMs, 60_000) });
try {
  const n = await store.upsertProducts(partnerId, products);
  console.log(`imported ${n} product(s) into the catalogue of ${partnerId}`);
} finally {
  await store.close();
}
