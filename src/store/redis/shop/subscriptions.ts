/**
 * Shop subscriptions in Redis, in the partner's shop slot: the subscription JSON per id and a hash of names. The
 * put is one script (all or nothing, names checked against the state after the call); an update is a
 * compare-and-set on the JSON read.
 */
import type { Subscription } from '../../../domain/shop/records.js';
import { callerFn } from '../../shared/checks.js';
import { parseJson, toJson } from '../../shared/codec.js';
import { KeyedSerializer } from '../../shared/serial.js';
import { assertSameSubscriptionKey, checkSubscriptionBatch } from '../../shared/shop.js';
import { StoreUnavailableError, SubscriptionNameConflictError } from '../../store.js';
import { mapError, num, sleep, str, type RedisConnection } from '../connection.js';
import * as scripts from '../scripts/index.js';

const MAX_UPDATE_TRIES = 100;

export class RedisShopSubscriptions {
  /** Same-subscription updates of this process queue here, so that they do not fight each other. */
  private readonly serial = new KeyedSerializer();

  constructor(private readonly conn: RedisConnection) {}

  async putSubscriptions(partnerId: string, subscriptions: readonly Subscription[]): Promise<void> {
    const batch = checkSubscriptionBatch(partnerId, subscriptions);
    if (batch.length === 0) return;
    const args = batch.flatMap((s) => [this.conn.keys.subscription(partnerId, s.id), s.id, s.name, toJson(s)]);
    const conflict = str(await this.conn.script(scripts.SHOP_SUBSCRIPTIONS_PUT, [this.conn.keys.shop(partnerId, 'sub-names')], [batch.length, ...args]));
    if (conflict !== null) throw new SubscriptionNameConflictError(conflict);
  }

  async getSubscription(partnerId: string, id: string): Promise<Subscription | null> {
    const json = await this.conn.cmd((c) => c.get(this.conn.keys.subscription(partnerId, id)));
    return json === null ? null : parseJson<Subscription>(json);
  }

  async getSubscriptionByName(partnerId: string, name: string): Promise<Subscription | null> {
    const id = await this.conn.cmd((c) => c.hget(this.conn.keys.shop(partnerId, 'sub-names'), name));
    if (id === null) return null;
    const subscription = await this.getSubscription(partnerId, id);
    // a rename between the two reads: the name no longer belongs to it
    return subscription?.name === name ? subscription : null;
  }

  updateSubscription(partnerId: string, id: string, fn: (subscription: Subscription) => Subscription | null): Promise<Subscription | null> {
    return this.serial.run(this.conn.keys.subscription(partnerId, id), () => this.updateNow(partnerId, id, fn));
  }

  private async updateNow(partnerId: string, id: string, fn: (subscription: Subscription) => Subscription | null): Promise<Subscription | null> {
    const key = this.conn.keys.subscription(partnerId, id);
    for (let attempt = 0; attempt < MAX_UPDATE_TRIES; attempt++) {
      if (attempt > 0) await sleep(Math.random() * Math.min(1 + attempt, 20));
      const json = await this.conn.cmd((c) => c.get(key));
      if (json === null) return null;
      const current = parseJson<Subscription>(json);
      let next: Subscription | null;
      try {
        next = callerFn(() => fn(current));
      } catch (error) {
        throw mapError(error);
      }
      if (next === null) return current;
      assertSameSubscriptionKey(next, current);
      // the name is unchanged, so the name hash stays as it is
      if (num(await this.conn.script(scripts.SET_IF_EQUAL, [key], [json, toJson(next)])) === 1) return next;
    }
    throw new StoreUnavailableError(`subscription update kept conflicting after ${MAX_UPDATE_TRIES} tries`);
  }
}
