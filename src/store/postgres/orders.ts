/**
 * Orders in PostgreSQL: a row per (partner, order number), the order as JSONB, indexed by payment reference and user.
 */
import { assertListLimit, assertSameOrderKey, callerFn } from '../shared/checks.js';
import { cutPage, decodeCursor, toJson } from '../shared/codec.js';
import { DuplicateOrderError, type Order, type OrderPage, type OrderStore } from '../store.js';
import type { PgConnection } from './connection.js';

interface OrderRow {
  created: number;
  order_no: string;
  data: Order;
}

export class PgOrders implements OrderStore {
  constructor(private readonly conn: PgConnection) {}

  async createOrder(order: Order): Promise<void> {
    const { rowCount } = await this.conn.q(
      `INSERT INTO orders (partner_id, order_no, user_id, payment_provider, payment_ref, created, data)
       VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb) ON CONFLICT (partner_id, order_no) DO NOTHING`,
      [order.partnerId, order.orderNo, order.userId, order.paymentProvider, order.paymentRef, order.created, toJson(order)],
    );
    if (rowCount !== 1) throw new DuplicateOrderError(order.partnerId, order.orderNo);
  }

  async getOrder(partnerId: string, orderNo: string): Promise<Order | null> {
    const { rows } = await this.conn.q<OrderRow>('SELECT data FROM orders WHERE partner_id = $1 AND order_no = $2', [partnerId, orderNo]);
    return rows[0]?.data ?? null;
  }

  async getOrderByPaymentRef(provider: string, paymentRef: string): Promise<Order | null> {
    const { rows } = await this.conn.q<OrderRow>(
      `SELECT data FROM orders WHERE payment_provider = $1 AND payment_ref = $2 ORDER BY created DESC LIMIT 1`,
      [provider, paymentRef],
    );
    return rows[0]?.data ?? null;
  }

  async updateOrder(partnerId: string, orderNo: string, fn: (order: Order) => Order | null): Promise<Order | null> {
    return this.conn.tx(async (c) => {
        const { rows } = await c.query<OrderRow>('SELECT data FROM orders WHERE partner_id = $1 AND order_no = $2 FOR UPDATE', [
          partnerId,
          orderNo,
        ]);
        const current = rows[0]?.data;
        if (current === undefined) return null;
        const next = callerFn(() => fn(current));
        if (next === null) return current;
        assertSameOrderKey(next, partnerId, orderNo);
        await c.query(
          `UPDATE orders SET user_id = $3, payment_provider = $4, payment_ref = $5, created = $6, data = $7::jsonb
           WHERE partner_id = $1 AND order_no = $2`,
          [partnerId, orderNo, next.userId, next.paymentProvider, next.paymentRef, next.created, toJson(next)],
        );
        return next;
    });
  }

  async listOrders(partnerId: string, userId: string, limit: number, cursor: string | null): Promise<OrderPage> {
    assertListLimit(limit);
    const after = cursor === null ? null : decodeCursor(cursor);
    const { rows } =
      after === null
        ? await this.conn.q<OrderRow>(
            `SELECT created, order_no, data FROM orders WHERE partner_id = $1 AND user_id = $2
             ORDER BY created DESC, order_no DESC LIMIT $3`,
            [partnerId, userId, limit + 1],
          )
        : await this.conn.q<OrderRow>(
            `SELECT created, order_no, data FROM orders WHERE partner_id = $1 AND user_id = $2
               AND (created, order_no) < ($3, $4)
             ORDER BY created DESC, order_no DESC LIMIT $5`,
            [partnerId, userId, after.created, after.orderNo, limit + 1],
          );
    const { page, next } = cutPage(rows, limit, (r) => ({ created: r.created, orderNo: r.order_no }));
    return { orders: page.map((r) => r.data), next };
  }
}
