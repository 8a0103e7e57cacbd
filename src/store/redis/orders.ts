/**
 * Orders in Redis: the order JSON per (partner, order number), a zset of order numbers per user, and a pointer per
 * payment reference. The pointer is written first and verified on read, so a crash in between leaves an entry that
 * resolves to nothing.
 */
import { assertListLimit, assertSameOrderKey, callerFn } from '../shared/checks.js';
import { cutPage, decodeCursor, parseJson, toJson } from '../shared/codec.js';
import { KeyedSerializer } from '../shared/serial.js';
import { DuplicateOrderError, StoreUnavailableError, type Order, type OrderPage, type OrderStore } from '../store.js';
import { mapError, num, sleep, type RedisConnection } from './connection.js';
import type { RedisKeys } from './keys.js';
import * as scripts from './scripts/index.js';

const MAX_UPDATE_TRIES = 100;

export class RedisOrders implements OrderStore {
  private readonly keys: RedisKeys;

  constructor(private readonly conn: RedisConnection) {
    this.keys = conn.keys;
  }

  /** Same-order updates of this process queue here, so that they do not fight each other. */
  private readonly serial = new KeyedSerializer();

  async createOrder(order: Order): Promise<void> {
    if (order.paymentRef !== null) {
      // Written first and verified on read: a failed create leaves an entry that resolves to nothing.
      const ref = this.keys.paymentRef(order.paymentProvider, order.paymentRef);
      await this.conn.cmd((c) => c.set(ref, JSON.stringify([order.partnerId, order.orderNo])));
    }
    const created = num(
      await this.conn.script(
        scripts.ORDER_CREATE,
        [this.keys.order(order.partnerId, order.orderNo), this.keys.userOrders(order.partnerId, order.userId)],
        [toJson(order), order.created, order.orderNo],
      ),
    );
    if (created !== 1) throw new DuplicateOrderError(order.partnerId, order.orderNo);
  }

  async getOrder(partnerId: string, orderNo: string): Promise<Order | null> {
    const json = await this.conn.cmd((c) => c.get(this.keys.order(partnerId, orderNo)));
    return json === null ? null : parseJson<Order>(json);
  }

  async getOrderByPaymentRef(provider: string, paymentRef: string): Promise<Order | null> {
    const ref = await this.conn.cmd((c) => c.get(this.keys.paymentRef(provider, paymentRef)));
    if (ref === null) return null;
    const [partnerId, orderNo] = parseJson<[string, string]>(ref);
    const order = await this.getOrder(partnerId, orderNo);
    return order !== null && order.paymentProvider === provider && order.paymentRef === paymentRef ? order : null;
  }

  updateOrder(partnerId: string, orderNo: string, fn: (order: Order) => Order | null): Promise<Order | null> {
    return this.serial.run(this.keys.order(partnerId, orderNo), () => this.updateOrderNow(partnerId, orderNo, fn));
  }

  private async updateOrderNow(partnerId: string, orderNo: string, fn: (order: Order) => Order | null): Promise<Order | null> {
    const key = this.keys.order(partnerId, orderNo);
    for (let attempt = 0; attempt < MAX_UPDATE_TRIES; attempt++) {
      if (attempt > 0) await sleep(Math.random() * Math.min(1 + attempt, 20));
      const json = await this.conn.cmd((c) => c.get(key));
      if (json === null) return null;
      const current = parseJson<Order>(json);
      let next: Order | null;
      try {
        next = callerFn(() => fn(current));
      } catch (error) {
        throw mapError(error);
      }
      if (next === null) return current;
      assertSameOrderKey(next, partnerId, orderNo);
      const refChanged = next.paymentRef !== current.paymentRef || next.paymentProvider !== current.paymentProvider;
      const pointer = JSON.stringify([partnerId, orderNo]);
      if (refChanged && next.paymentRef !== null) {
        const ref = this.keys.paymentRef(next.paymentProvider, next.paymentRef);
        await this.conn.cmd((c) => c.set(ref, pointer));
      }
      const written = num(
        await this.conn.script(
          scripts.ORDER_CAS,
          [key, this.keys.userOrders(partnerId, current.userId), this.keys.userOrders(partnerId, next.userId)],
          [json, toJson(next), next.created, orderNo],
        ),
      );
      if (written === 0) continue;
      if (refChanged && current.paymentRef !== null) {
        const old = this.keys.paymentRef(current.paymentProvider, current.paymentRef);
        await this.conn.script(scripts.DELETE_IF_EQUAL, [old], [pointer]);
      }
      return next;
    }
    throw new StoreUnavailableError(`order update kept conflicting after ${MAX_UPDATE_TRIES} tries`);
  }

  async listOrders(partnerId: string, userId: string, limit: number, cursor: string | null): Promise<OrderPage> {
    assertListLimit(limit);
    const after = cursor === null ? null : decodeCursor(cursor);
    const index = this.keys.userOrders(partnerId, userId);
    // Same score sorts by member, so the zset order is (created DESC, orderNo DESC), as the other stores.
    const picked: { orderNo: string; created: number }[] = [];
    const batch = limit + 1 + 16;
    for (let offset = 0; picked.length <= limit; offset += batch) {
      const max = after === null ? '+inf' : String(after.created);
      const found = await this.conn.cmd((c) => c.zrevrangebyscore(index, max, '-inf', 'WITHSCORES', 'LIMIT', offset, batch));
      for (let i = 0; i + 1 < found.length && picked.length <= limit; i += 2) {
        const orderNo = found[i] ?? '';
        const created = Number(found[i + 1]);
        if (after !== null && created === after.created && orderNo >= after.orderNo) continue;
        picked.push({ orderNo, created });
      }
      if (found.length < batch * 2) break;
    }
    const { page, next } = cutPage(picked, limit, (p) => p);
    const orders: Order[] = [];
    if (page.length > 0) {
      // One MGET: the orders of a partner share a hash slot.
      const jsons = await this.conn.cmd((c) => c.mget(page.map((p) => this.keys.order(partnerId, p.orderNo))));
      for (const json of jsons) if (json !== null) orders.push(parseJson<Order>(json));
    }
    return { orders, next };
  }
}
