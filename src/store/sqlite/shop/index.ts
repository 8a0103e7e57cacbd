/**
 * The SQLite ShopStore (`store.shop`), on the store's own connection and group commit:
 *   offers.ts  baskets.ts (and external ids, the abandoned listing, the purge)  orders.ts  subscriptions.ts
 * Its tables are in the store's migrations (schema.ts).
 */
import { ComposedShopStore, type ShopStoreParts } from '../../shared/composed-shop.js';
import type { SqliteConnection } from '../connection.js';
import type { GroupCommit } from '../group-commit.js';
import { SqliteShopBaskets } from './baskets.js';
import { SqliteShopOffers } from './offers.js';
import { SqliteShopOrders } from './orders.js';
import { SqliteShopSubscriptions } from './subscriptions.js';

interface SqliteShopParts extends ShopStoreParts {
  offers: SqliteShopOffers;
  baskets: SqliteShopBaskets;
  orders: SqliteShopOrders;
  subscriptions: SqliteShopSubscriptions;
}

export class SqliteShopStore extends ComposedShopStore<SqliteShopParts> {
  constructor(conn: SqliteConnection, writes: GroupCommit) {
    super({
      offers: new SqliteShopOffers(conn, writes),
      baskets: new SqliteShopBaskets(conn, writes),
      orders: new SqliteShopOrders(conn, writes),
      subscriptions: new SqliteShopSubscriptions(conn, writes),
    });
  }

  /** Prepares the statements once the schema is migrated (the store's init()). */
  prepare(): void {
    for (const concern of [this.offers, this.baskets, this.orders, this.subscriptions]) concern.prepare();
  }
}
