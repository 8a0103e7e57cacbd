/**
 * The Redis ShopStore (`store.shop`), on the store's own clients (single Redis or Cluster):
 *   offers.ts  baskets.ts (and external ids, the abandoned index, the purge)  orders.ts  subscriptions.ts
 * Keys in ../keys.ts, scripts in ../scripts/shop.ts.
 */
import { ComposedShopStore } from '../../shared/composed-shop.js';
import type { RedisConnection } from '../connection.js';
import { RedisShopBaskets } from './baskets.js';
import { RedisShopOffers } from './offers.js';
import { RedisShopOrders } from './orders.js';
import { RedisShopSubscriptions } from './subscriptions.js';

export class RedisShopStore extends ComposedShopStore {
  constructor(conn: RedisConnection) {
    super({
      offers: new RedisShopOffers(conn),
      baskets: new RedisShopBaskets(conn),
      orders: new RedisShopOrders(conn),
      subscriptions: new RedisShopSubscriptions(conn),
    });
  }
}
