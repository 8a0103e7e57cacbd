/**
 * Checkout baskets in Redis: a hash per basket (its own hash tag), the partner's abandoned index in the partner's
 * shop slot (a zset ordered by (created, id): scores 0, member `<created, 16 digits>:<id>`, read with ZRANGEBYLEX),
 * external ids in the partner's shop slot, and an expiry index ({gc}:shop-baskets) for the purge.
 *
 * Single Redis: one script writes the basket, its index entry and its expiry entry (SHOP_BASKET_WRITE).
 * Redis Cluster: the basket and the index live in different slots and no script may span them, so a write is
 *   1. the index entry added (if the basket will be open) and the expiry entry, before the basket is written,
 *   2. the basket's compare-and-set (SHOP_BASKET_CAS),
 *   3. the index entry removed (if the basket is no longer open), after it is written.
 * Every index change carries the basket version it was made for and an older one is refused (SHOP_INDEX_SET), so
 * changes arriving out of order cannot undo a later one; adding first means a crash never leaves an open basket
 * out of the index. What may be left is an entry too many (a write that lost its race, a crash before step 3): the
 * listing reads every basket it returns anyway, and drops an entry whose basket is not open (SHOP_INDEX_DROP, gated
 * by the version it read). docs/decisions.md has the reasoning.
 */
import type { ShopBasket } from '../../../domain/shop/records.js';
import { callerFn } from '../../shared/checks.js';
import { parseJson, toJson } from '../../shared/codec.js';
import { KeyedSerializer } from '../../shared/serial.js';
import { assertAbandonedQuery, assertPurgeLimit, assertSameShopBasketKey } from '../../shared/shop.js';
import { StoreUnavailableError, type AbandonedQuery, type ShopBasketChange, type ShopBasketUpdater, type StoredShopBasket } from '../../store.js';
import { list, mapError, num, sleep, str, type RedisConnection } from '../connection.js';
import * as scripts from '../scripts/index.js';

const MAX_UPDATE_TRIES = 100;
const PURGE_BATCH = 200;

/** Created times are kept as 16 digits after this offset, so that the member's text order is the time order. */
const CREATED_OFFSET = 4e15;
const CREATED_MAX = 5e15;

function createdText(created: number): string {
  const clamped = Math.min(Math.max(created, -CREATED_OFFSET), CREATED_MAX);
  return String(clamped + CREATED_OFFSET).padStart(16, '0');
}

/** The basket's member in the abandoned index. */
function member(created: number, id: string): string {
  return `${createdText(created)}:${id}`;
}

function idOf(m: string): string {
  return m.slice(17);
}

function stored(v: string | null | undefined, d: string | null | undefined): StoredShopBasket | null {
  if (v === null || v === undefined || d === null || d === undefined) return null;
  return { basket: parseJson<ShopBasket>(d), version: Number(v) };
}

export class RedisShopBaskets {
  /** Same-basket writes of this process queue here, so that they do not fight each other. */
  private readonly serial = new KeyedSerializer();

  constructor(private readonly conn: RedisConnection) {}

  private get keys() {
    return this.conn.keys;
  }

  async getShopBasket(partnerId: string, basketId: string): Promise<StoredShopBasket | null> {
    const [v, d] = await this.conn.cmd((c) => c.hmget(this.keys.shopBasket(partnerId, basketId), 'v', 'd'));
    return stored(v, d);
  }

  updateShopBasket<R>(partnerId: string, basketId: string, fn: ShopBasketUpdater<R>): Promise<R> {
    return this.serial.run(this.keys.shopBasket(partnerId, basketId), () => this.updateNow(partnerId, basketId, fn));
  }

  private async updateNow<R>(partnerId: string, basketId: string, fn: ShopBasketUpdater<R>): Promise<R> {
    for (let attempt = 0; attempt < MAX_UPDATE_TRIES; attempt++) {
      if (attempt > 0) await sleep(Math.random() * Math.min(1 + attempt, 20));
      const current = await this.getShopBasket(partnerId, basketId);
      let change: ShopBasketChange<R>;
      try {
        change = callerFn(() => fn(current));
      } catch (error) {
        throw mapError(error);
      }
      if ('keep' in change) return change.result;
      assertSameShopBasketKey(change.basket, partnerId, basketId);
      const written = await this.write(current, change.basket);
      if (written) return change.result;
    }
    throw new StoreUnavailableError(`shop basket update kept conflicting after ${MAX_UPDATE_TRIES} tries`);
  }

  /** Writes `basket` if the stored version is still the one of `current`; false when another write came first. */
  private async write(current: StoredShopBasket | null, basket: ShopBasket): Promise<boolean> {
    const { partnerId, id } = basket;
    const basketKey = this.keys.shopBasket(partnerId, id);
    const open = this.keys.shop(partnerId, 'open');
    const openV = this.keys.shop(partnerId, 'open-v');
    const expected = current?.version ?? 0;
    const version = expected + 1;
    const m = member(basket.created, id);
    const isOpen = basket.status === 'open';
    const json = toJson(basket);
    const gcMember = JSON.stringify([partnerId, id]);
    if (this.conn.cluster === null) {
      const args = [expected, json, basket.expires, id, m, isOpen ? '1' : '0', gcMember];
      return num(await this.conn.script(scripts.SHOP_BASKET_WRITE, [basketKey, open, openV, this.keys.shopBasketExpiry], args)) !== 0;
    }
    const index = (flag: '1' | '0') => this.conn.script(scripts.SHOP_INDEX_SET, [open, openV], [id, version, m, flag]);
    // 1. before the write: what must never be missing once the basket is written
    const before: Promise<unknown>[] = [];
    if (isOpen) before.push(index('1'));
    if (current === null || current.basket.expires !== basket.expires) {
      before.push(this.conn.cmd((c) => c.zadd(this.keys.shopBasketExpiry, basket.expires, gcMember)));
    }
    await Promise.all(before);
    // 2. the basket
    const written = num(await this.conn.script(scripts.SHOP_BASKET_CAS, [basketKey], [expected, json, basket.expires])) !== 0;
    // 3. after it: what must not be removed before it
    if (written && !isOpen) await index('0');
    return written;
  }

  async getExternalId(partnerId: string, externalId: string): Promise<string | null> {
    return this.conn.cmd((c) => c.get(this.keys.shopExternalId(partnerId, externalId)));
  }

  async claimExternalId(partnerId: string, externalId: string, basketId: string, expected: string | null): Promise<string> {
    // A pointer that is gone (its basket was purged) is free again: see docs/decisions.md.
    const now = await this.conn.script(scripts.SHOP_EXTERNAL_CLAIM, [this.keys.shopExternalId(partnerId, externalId)], [basketId, expected ?? '']);
    const id = str(now);
    if (id === null) throw new Error('Redis returned no basket id for an external id claim');
    return id;
  }

  async listAbandoned(query: AbandonedQuery): Promise<ShopBasket[]> {
    assertAbandonedQuery(query);
    const { partnerId, createdAfter, now, limit } = query;
    const open = this.keys.shop(partnerId, 'open');
    // The later of the two lower bounds: created > createdAfter, and (created, id) > after.
    const after = query.after;
    let start = after !== null && after.created > createdAfter ? `(${member(after.created, after.id)}` : `(${createdText(createdAfter)};`;
    // ';' follows ':' in code order: `(<createdAfter>;` starts after every member created at createdAfter.
    const out: ShopBasket[] = [];
    while (out.length < limit) {
      const batch = limit - out.length + 8;
      const members = await this.conn.cmd((c) => c.zrangebylex(open, start, '+', 'LIMIT', 0, batch));
      if (members.length === 0) break;
      // one HMGET per basket, pipelined (each basket has a slot of its own)
      const found = await Promise.all(members.map((m) => this.getShopBasket(partnerId, idOf(m))));
      for (let i = 0; i < members.length && out.length < limit; i++) {
        const m = members[i]!;
        const s = found[i] ?? null;
        if (s === null || s.basket.status !== 'open' || member(s.basket.created, s.basket.id) !== m) {
          await this.drop(partnerId, m, s);
          continue;
        }
        if (s.basket.expires > now) out.push(s.basket);
      }
      start = `(${members[members.length - 1]!}`;
      if (members.length < batch) break;
    }
    return out;
  }

  /** Drops an index entry whose basket is gone, not open, or has another created time. */
  private async drop(partnerId: string, m: string, s: StoredShopBasket | null): Promise<void> {
    const keys = [this.keys.shop(partnerId, 'open'), this.keys.shop(partnerId, 'open-v')];
    await this.conn.script(scripts.SHOP_INDEX_DROP, keys, [idOf(m), s === null ? 'gone' : s.version, m]);
  }

  async purgeExpiredShopBaskets(now: number, limit: number): Promise<number> {
    assertPurgeLimit(limit);
    const index = this.keys.shopBasketExpiry;
    let deleted = 0;
    while (deleted < limit) {
      const due = await this.conn.cmd((c) => c.zrangebyscore(index, '-inf', now, 'LIMIT', 0, PURGE_BATCH));
      if (due.length === 0) break;
      for (const gcMember of due) {
        if (deleted >= limit) break;
        const [partnerId, basketId] = parseJson<[string, string]>(gcMember);
        const outcome = list(await this.conn.script(scripts.SHOP_BASKET_PURGE, [this.keys.shopBasket(partnerId, basketId)], [now]));
        if (num(outcome[0]) === 2) {
          // lives longer than its entry said (an entry written by a write that lost its race): move it
          await this.conn.cmd((c) => c.zadd(index, num(outcome[1]), gcMember));
          continue;
        }
        if (num(outcome[0]) === 1) {
          deleted++;
          const basket = parseJson<ShopBasket>(str(outcome[1]) ?? 'null');
          await this.drop(partnerId, member(basket.created, basketId), null);
          if (basket.externalId !== null) {
            await this.conn.script(scripts.DELETE_IF_EQUAL, [this.keys.shopExternalId(partnerId, basket.externalId)], [basketId]);
          }
        }
        await this.conn.script(scripts.INDEX_DROP_IF_DUE, [index], [gcMember, now]);
      }
    }
    return deleted;
  }
}
