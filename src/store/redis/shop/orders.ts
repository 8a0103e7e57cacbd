/**
 * Shop orders in Redis: the order JSON in the partner's shop slot, and a pointer per payment reference. The pointer
 * is written first and verified on read, so a crash in between leaves an entry that resolves to nothing.
 */
import type { ShopOrder } from '../../../domain/shop/records.js';
import { callerFn } from '../../shared/checks.js';
import { parseJson, toJson } from '../../shared/codec.js';
import { KeyedSerializer } from '../../shared/serial.js';
import { assertSameShopOrderKey } from '../../shared/shop.js';
import { DuplicateOrderError, StoreUnavailableError } from '../../store.js';
import { mapError, num, sleep, type RedisConnection } from '../connection.js';
import * as scripts from '../scripts/index.js';

const MAX_UPDATE_TRIES = 100;

export class RedisShopOrders {
  /** Same-order updates of this process queue here, so that they do not fight each other. */
  private readonly serial = new KeyedSerializer();

  constructor(private readonly conn: RedisConnection) {}

  private pointer(order: ShopOrder): string | null {
    return order.paymentProvider === null || order.paymentRef === null ? null : this.conn.keys.shopPaymentRef(order.paymentProvider, order.paymentRef);
  }

  async createShopOrder(order: ShopOrder): Promise<void> {
    const ref = this.pointer(order);
    if (ref !== null) await this.conn.cmd((c) => c.set(ref, JSON.stringify([order.partnerId, order.id])));
    const created = await this.conn.cmd((c) => c.set(this.conn.keys.shopOrder(order.partnerId, order.id), toJson(order), 'NX'));
    if (created !== 'OK') throw new DuplicateOrderError(order.partnerId, order.id);
  }

  async getShopOrder(partnerId: string, orderId: string): Promise<ShopOrder | null> {
    const json = await this.conn.cmd((c) => c.get(this.conn.keys.shopOrder(partnerId, orderId)));
    return json === null ? null : parseJson<ShopOrder>(json);
  }

  async getShopOrderByPaymentRef(provider: string, paymentRef: string): Promise<ShopOrder | null> {
    const ref = await this.conn.cmd((c) => c.get(this.conn.keys.shopPaymentRef(provider, paymentRef)));
    if (ref === null) return null;
    const [partnerId, orderId] = parseJson<[string, string]>(ref);
    const order = await this.getShopOrder(partnerId, orderId);
    return order !== null && order.paymentProvider === provider && order.paymentRef === paymentRef ? order : null;
  }

  updateShopOrder(partnerId: string, orderId: string, fn: (order: ShopOrder) => ShopOrder | null): Promise<ShopOrder | null> {
    return this.serial.run(this.conn.keys.shopOrder(partnerId, orderId), () => this.updateNow(partnerId, orderId, fn));
  }

  private async updateNow(partnerId: string, orderId: string, fn: (order: ShopOrder) => ShopOrder | null): Promise<ShopOrder | null> {
    const key = this.conn.keys.shopOrder(partnerId, orderId);
    for (let attempt = 0; attempt < MAX_UPDATE_TRIES; attempt++) {
      if (attempt > 0) await sleep(Math.random() * Math.min(1 + attempt, 20));
      const json = await this.conn.cmd((c) => c.get(key));
      if (json === null) return null;
      const current = parseJson<ShopOrder>(json);
      let next: ShopOrder | null;
      try {
        next = callerFn(() => fn(current));
      } catch (error) {
        throw mapError(error);
      }
      if (next === null) return current;
      assertSameShopOrderKey(next, partnerId, orderId);
      const [oldRef, newRef] = [this.pointer(current), this.pointer(next)];
      const target = JSON.stringify([partnerId, orderId]);
      if (newRef !== null && newRef !== oldRef) await this.conn.cmd((c) => c.set(newRef, target));
      if (num(await this.conn.script(scripts.SET_IF_EQUAL, [key], [json, toJson(next)])) === 0) continue;
      if (oldRef !== null && oldRef !== newRef) await this.conn.script(scripts.DELETE_IF_EQUAL, [oldRef], [target]);
      return next;
    }
    throw new StoreUnavailableError(`shop order update kept conflicting after ${MAX_UPDATE_TRIES} tries`);
  }
}
