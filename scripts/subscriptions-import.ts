/**
 * Loads subscriptions from a JSON-lines file straight into the configured store:
 * `npm run subscriptions:import -- file.jsonl [--partner demo]`. All or nothing; the offer versions they name must
 * be loaded first (offers:import).
 */
import { runImport } from './import-lines.js';
import type { Subscription } from '../src/domain/shop/records.js';
import { parseSubscription } from '../src/domain/shop/subscription-input.js';
import { ParsedJsonLines } from '../src/service/json-lines.js';
import { ShopAdminService } from '../src/service/shop-admin.js';

await runImport<Subscription>({
  name: 'subscriptions:import',
  parse: (text, partnerId) => new ParsedJsonLines((json) => parseSubscription(json, partnerId)).addText(text),
  async load(store, partnerId, items) {
    const n = await new ShopAdminService(store.shop).loadSubscriptions(partnerId, items);
    return `imported ${n} subscription(s) for ${partnerId}`;
  },
});
