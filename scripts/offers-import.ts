/**
 * Loads offer versions from a JSON-lines file straight into the configured store:
 * `npm run offers:import -- file.jsonl [--partner demo]`. All or nothing; a version already loaded with the same
 * content is a no-op, with other content a failure. Links to offers not loaded are printed as warnings.
 */
import { runImport } from './import-lines.js';
import { parseOffer } from '../src/domain/shop/offer-input.js';
import type { Offer } from '../src/domain/shop/records.js';
import { ParsedJsonLines } from '../src/service/json-lines.js';
import { ShopAdminService } from '../src/service/shop-admin.js';

await runImport<Offer>({
  name: 'offers:import',
  parse: (text) => new ParsedJsonLines((json) => parseOffer(json)).addText(text),
  async load(store, partnerId, items) {
    const { loaded, warnings } = await new ShopAdminService(store.shop).loadOffers(partnerId, items);
    for (const w of warnings) console.error(`warning: offer ${w.offer.id} version ${w.offer.version}: ${w.field} ${w.message}`);
    return `imported ${loaded} offer version(s) for ${partnerId}`;
  },
});
