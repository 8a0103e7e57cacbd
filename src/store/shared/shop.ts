/**
 * Rules of the ShopStore contract (interface/shop.ts) that every engine applies alike: argument checks, the
 * canonical JSON by which offer versions are compared, and the checks made on a whole putOffers/putSubscriptions
 * call before anything is written. Pure; one copy, so that no engine accepts what another rejects.
 */
import type { Offer, ShopBasket, ShopOrder, Subscription } from '../../domain/shop/records.js';
import { OfferVersionConflictError, SubscriptionNameConflictError, type AbandonedQuery } from '../store.js';

/** listAbandoned's page size bound (the contract's 1..1000). */
export const MAX_ABANDONED_LIMIT = 1000;

/**
 * JSON with object keys sorted, so that equal content gives equal text whatever order the caller built the object
 * in: offer versions are immutable, and "the same content again" is decided by comparing this text.
 */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value)) ?? 'null';
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (typeof value !== 'object' || value === null) return value;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value).sort()) out[key] = sortKeys((value as Record<string, unknown>)[key]);
  return out;
}

export function assertAbandonedQuery(query: AbandonedQuery): void {
  const { limit, createdAfter, now, after } = query;
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_ABANDONED_LIMIT) {
    throw new RangeError(`limit must be a whole number from 1 to ${MAX_ABANDONED_LIMIT}`);
  }
  if (!Number.isSafeInteger(createdAfter) || !Number.isSafeInteger(now)) throw new RangeError('createdAfter and now must be whole epoch ms');
  if (after !== null && (!Number.isSafeInteger(after.created) || typeof after.id !== 'string')) throw new RangeError('after must be a {created, id} position');
}

export function assertPurgeLimit(limit: number): void {
  if (!Number.isSafeInteger(limit) || limit < 0) throw new RangeError('limit must be a whole number');
}

/** The basket an updater writes is the one it was asked for: its key picks the record (and, in Redis, the slot). */
export function assertSameShopBasketKey(basket: ShopBasket, partnerId: string, basketId: string): void {
  if (basket.id !== basketId || basket.partnerId !== partnerId) {
    throw new Error('updateShopBasket: fn must not change the basket id or partnerId');
  }
}

export function assertSameShopOrderKey(next: ShopOrder, partnerId: string, orderId: string): void {
  if (next.partnerId !== partnerId || next.id !== orderId) throw new Error('updateShopOrder: fn must not change partnerId or id');
}

export function assertSameSubscriptionKey(next: Subscription, current: Subscription): void {
  if (next.partnerId !== current.partnerId || next.id !== current.id || next.name !== current.name) {
    throw new Error('updateSubscription: fn must not change partnerId, id or name');
  }
}

/** An offer version as stored: its canonical JSON, by which a second load of the same {id, version} is compared. */
export interface OfferEntry {
  offer: Offer;
  json: string;
}

/**
 * Checks a putOffers call on its own before any store is read: one {id, version} given twice with other content
 * conflicts within the call, as it would with a stored one.
 */
export function offerEntries(offers: readonly Offer[]): OfferEntry[] {
  const seen = new Map<string, string>();
  const entries: OfferEntry[] = [];
  for (const offer of offers) {
    if (typeof offer.id !== 'string' || typeof offer.version !== 'string') throw new TypeError('an offer needs a string id and version');
    const json = canonicalJson(offer);
    const key = JSON.stringify([offer.id, offer.version]);
    const earlier = seen.get(key);
    if (earlier !== undefined && earlier !== json) throw new OfferVersionConflictError({ id: offer.id, version: offer.version });
    seen.set(key, json);
    entries.push({ offer, json });
  }
  return entries;
}

/**
 * Checks a putSubscriptions call on its own: every subscription is the call's partner's, and two different ids
 * of the call never share a name. (Ids given twice: the later entry wins, as a replacement would.)
 */
export function checkSubscriptionBatch(partnerId: string, subscriptions: readonly Subscription[]): Subscription[] {
  const byId = new Map<string, Subscription>();
  for (const s of subscriptions) {
    if (s.partnerId !== partnerId) throw new Error('putSubscriptions: every subscription must belong to the partner of the call');
    byId.set(s.id, s);
  }
  const names = new Map<string, string>();
  for (const s of byId.values()) {
    const owner = names.get(s.name);
    if (owner !== undefined && owner !== s.id) throw new SubscriptionNameConflictError(s.name);
    names.set(s.name, s.id);
  }
  return [...byId.values()];
}
