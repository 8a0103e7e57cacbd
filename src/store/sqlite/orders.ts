/** Orders in SQLite: a row per (partner, order number), the order as JSON, indexed by payment reference and user. */
import { assertListLimit, assertSameOrderKey, callerFn } from '../shared/checks.js';
import { cutPage, decodeCursor, parseJson, toJson } from '../shared/codec.js';
import { DuplicateOrderError, type Order, type OrderPage, type OrderStore } from '../store.js';
import { isUniqueViolation, SqliteConcern, type Db, type SqliteConnection } from './connection.js';
import type { GroupCommit } from './group-commit.js';

interface OrderRow {
  created: number;
  order_no: string;
  data: string;
}

function prepareStatements(db: Db) {
  return {
    insertOrder: db.prepare<[string, string, string, string, string | null, number, string]>(
      `INSERT INTO orders (partner_id, order_no, user_id, payment_provider, payment_ref, created, data)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
    ),
    getOrder: db.prepare<[string, string], OrderRow>(
      'SELECT created, order_no, data FROM orders WHERE partner_id = ? AND order_no = ?',
    ),
    getOrderByPaymentRef: db.prepare<[string, string], OrderRow>(
      `SELECT created, order_no, data FROM orders WHERE payment_provider = ? AND payment_ref = ?
       ORDER BY created DESC LIMIT 1`,
    ),
    updateOrder: db.prepare<[string, string, string | null, number, string, string, string]>(
      `UPDATE orders SET user_id = ?, payment_provider = ?, payment_ref = ?, created = ?, data = ?
       WHERE partner_id = ? AND order_no = ?`,
    ),
    listOrdersFirst: db.prepare<[string, string, number], OrderRow>(
      `SELECT created, order_no, data FROM orders WHERE partner_id = ? AND user_id = ?
       ORDER BY created DESC, order_no DESC LIMIT ?`,
    ),
    listOrdersAfter: db.prepare<[string, string, number, number, string, number], OrderRow>(
      `SELECT created, order_no, data FROM orders WHERE partner_id = ? AND user_id = ?
         AND (created < ? OR (created = ? AND order_no < ?))
       ORDER BY created DESC, order_no DESC LIMIT ?`,
    ),
  };
}

export class SqliteOrders extends SqliteConcern<ReturnType<typeof prepareStatements>> implements OrderStore {
  protected prepareStatements(db: Db) {
    return prepareStatements(db);
  }

  async createOrder(order: Order): Promise<void> {
    try {
      await this.writes.groupWrite(() =>
        this.st.insertOrder.run(
          order.partnerId,
          order.orderNo,
          order.userId,
          order.paymentProvider,
          order.paymentRef,
          order.created,
          toJson(order),
        ),
      );
    } catch (error) {
      if (isUniqueViolation(error)) throw new DuplicateOrderError(order.partnerId, order.orderNo);
      throw error;
    }
  }

  async getOrder(partnerId: string, orderNo: string): Promise<Order | null> {
    const row = this.conn.run(() => this.st.getOrder.get(partnerId, orderNo));
    return row ? parseJson<Order>(row.data) : null;
  }

  async getOrderByPaymentRef(provider: string, paymentRef: string): Promise<Order | null> {
    const row = this.conn.run(() => this.st.getOrderByPaymentRef.get(provider, paymentRef));
    return row ? parseJson<Order>(row.data) : null;
  }

  async updateOrder(partnerId: string, orderNo: string, fn: (order: Order) => Order | null): Promise<Order | null> {
    return this.writes.writeTransaction((): Order | null => {
      const row = this.st.getOrder.get(partnerId, orderNo);
      if (!row) return null;
      const current = parseJson<Order>(row.data);
      const next = callerFn(() => fn(current));
      if (next === null) return current;
      assertSameOrderKey(next, partnerId, orderNo);
      this.st.updateOrder.run(next.userId, next.paymentProvider, next.paymentRef, next.created, toJson(next), partnerId, orderNo);
      return next;
    });
  }

  async listOrders(partnerId: string, userId: string, limit: number, cursor: string | null): Promise<OrderPage> {
    assertListLimit(limit);
    const after = cursor === null ? null : decodeCursor(cursor);
    // One row more than asked tells whether another page exists.
    const rows = this.conn.run(() =>
      after === null
        ? this.st.listOrdersFirst.all(partnerId, userId, limit + 1)
        : this.st.listOrdersAfter.all(partnerId, userId, after.created, after.created, after.orderNo, limit + 1),
    );
    const { page, next } = cutPage(rows, limit, (r) => ({ created: r.created, orderNo: r.order_no }));
    return { orders: page.map((r) => parseJson<Order>(r.data)), next };
  }
}
