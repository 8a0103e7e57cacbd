/** Shop orders in SQLite: a row per (partner, order id), the order as JSON, indexed by payment provider and reference. */
import type { ShopOrder } from '../../../domain/shop/records.js';
import { callerFn } from '../../shared/checks.js';
import { parseJson, toJson } from '../../shared/codec.js';
import { assertSameShopOrderKey } from '../../shared/shop.js';
import { DuplicateOrderError } from '../../store.js';
import { isUniqueViolation, SqliteConcern, type Db } from '../connection.js';

function prepareStatements(db: Db) {
  return {
    insertOrder: db.prepare<[string, string, string | null, string | null, string]>(
      'INSERT INTO shop_orders (partner_id, order_id, payment_provider, payment_ref, data) VALUES (?, ?, ?, ?, ?)',
    ),
    getOrder: db.prepare<[string, string], string>('SELECT data FROM shop_orders WHERE partner_id = ? AND order_id = ?').pluck(),
    getOrderByPaymentRef: db.prepare<[string, string], string>(
      'SELECT data FROM shop_orders WHERE payment_provider = ? AND payment_ref = ? LIMIT 1',
    ).pluck(),
    updateOrder: db.prepare<[string | null, string | null, string, string, string]>(
      'UPDATE shop_orders SET payment_provider = ?, payment_ref = ?, data = ? WHERE partner_id = ? AND order_id = ?',
    ),
  };
}

export class SqliteShopOrders extends SqliteConcern<ReturnType<typeof prepareStatements>> {
  protected prepareStatements(db: Db) {
    return prepareStatements(db);
  }

  async createShopOrder(order: ShopOrder): Promise<void> {
    try {
      await this.writes.groupWrite(() =>
        this.st.insertOrder.run(order.partnerId, order.id, order.paymentProvider, order.paymentRef, toJson(order)),
      );
    } catch (error) {
      if (isUniqueViolation(error)) throw new DuplicateOrderError(order.partnerId, order.id);
      throw error;
    }
  }

  async getShopOrder(partnerId: string, orderId: string): Promise<ShopOrder | null> {
    const json = this.conn.run(() => this.st.getOrder.get(partnerId, orderId));
    return json === undefined ? null : parseJson<ShopOrder>(json);
  }

  async getShopOrderByPaymentRef(provider: string, paymentRef: string): Promise<ShopOrder | null> {
    const json = this.conn.run(() => this.st.getOrderByPaymentRef.get(provider, paymentRef));
    return json === undefined ? null : parseJson<ShopOrder>(json);
  }

  updateShopOrder(partnerId: string, orderId: string, fn: (order: ShopOrder) => ShopOrder | null): Promise<ShopOrder | null> {
    return this.writes.writeTransaction((): ShopOrder | null => {
      const json = this.st.getOrder.get(partnerId, orderId);
      if (json === undefined) return null;
      const current = parseJson<ShopOrder>(json);
      const next = callerFn(() => fn(current));
      if (next === null) return current;
      assertSameShopOrderKey(next, partnerId, orderId);
      this.st.updateOrder.run(next.paymentProvider, next.paymentRef, toJson(next), partnerId, orderId);
      return next;
    });
  }
}
