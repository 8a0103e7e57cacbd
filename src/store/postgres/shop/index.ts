/**
 * The PostgreSQL ShopStore (`store.shop`), on the store's own pool:
 *   offers.ts  baskets.ts (and external ids, the abandoned listing, the purge)  orders.ts  subscriptions.ts
 * Its tables are in the store's migrations (schema.ts).
 */
import { ComposedShopStore } from '../../shared/composed-shop.js';
import type { PgConnection } from '../connection.js';
import { PgShopBaskets } from './baskets.js';
import { PgShopOffers } from './offers.js';
import { PgShopOrders } from './orders.js';
import { PgShopSubscriptions } from './subscriptions.js';

export class PgShopStore extends ComposedShopStore {
  constructor(conn: PgConnection) {
    super({
      offers: new PgShopOffers(conn),
      baskets: new PgShopBaskets(conn),
      orders: new PgShopOrders(conn),
      subscriptions: new PgShopSubscriptions(conn),
    });
  }
}
