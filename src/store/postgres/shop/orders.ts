/** Shop orders in PostgreSQL: a row per (partner, order id), the order as JSONB, indexed by payment provider and reference. */
import type { ShopOrder } from '../../../domain/shop/records.js';
import { callerFn } from '../../shared/checks.js';
import { toJson } from '../../shared/codec.js';
import { assertSameShopOrderKey } from '../../shared/shop.js';
import { DuplicateOrderError } from '../../store.js';
import type { PgConnection } from '../connection.js';

export class PgShopOrders {
  constructor(private readonly conn: PgConnection) {}

  async createShopOrder(order: ShopOrder): Promise<void> {
    const { rowCount } = await this.conn.q(
      `INSERT INTO shop_orders (partner_id, order_id, payment_provider, payment_ref, data) VALUES ($1, $2, $3, $4, $5::jsonb)
       ON CONFLICT (partner_id, order_id) DO NOTHING`,
      [order.partnerId, order.id, order.paymentProvider, order.paymentRef, toJson(order)],
    );
    if (rowCount !== 1) throw new DuplicateOrderError(order.partnerId, order.id);
  }

  async getShopOrder(partnerId: string, orderId: string): Promise<ShopOrder | null> {
    const { rows } = await this.conn.q<{ data: ShopOrder }>('SELECT data FROM shop_orders WHERE partner_id = $1 AND order_id = $2', [partnerId, orderId]);
    return rows[0]?.data ?? null;
  }

  async getShopOrderByPaymentRef(provider: string, paymentRef: string): Promise<ShopOrder | null> {
    const { rows } = await this.conn.q<{ data: ShopOrder }>(
      'SELECT data FROM shop_orders WHERE payment_provider = $1 AND payment_ref = $2 LIMIT 1',
      [provider, paymentRef],
    );
    return rows[0]?.data ?? null;
  }

  updateShopOrder(partnerId: string, orderId: string, fn: (order: ShopOrder) => ShopOrder | null): Promise<ShopOrder | null> {
    return this.conn.tx(async (c) => {
      const { rows } = await c.query<{ data: ShopOrder }>('SELECT data FROM shop_orders WHERE partner_id = $1 AND order_id = $2 FOR UPDATE', [
        partnerId,
        orderId,
      ]);
      const current = rows[0]?.data;
      if (current === undefined) return null;
      const next = callerFn(() => fn(current));
      if (next === null) return current;
      assertSameShopOrderKey(next, partnerId, orderId);
      await c.query('UPDATE shop_orders SET payment_provider = $3, payment_ref = $4, data = $5::jsonb WHERE partner_id = $1 AND order_id = $2', [
        partnerId,
        orderId,
        next.paymentProvider,
        next.paymentRef,
        toJson(next),
      ]);
      return next;
    });
  }
}
