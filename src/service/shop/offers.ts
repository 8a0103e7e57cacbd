/**
 * Offer versions as the checkout reads them. A loaded {id, version} never changes (putOffers refuses other content
 * for a version it holds), so a found version is cached for good, bounded by entry count; an absent one is asked
 * again next time (it may have been loaded since).
 */
import { offerKey, type OfferLookup } from '../../domain/shop/items.js';
import type { Offer, OfferRef } from '../../domain/shop/records.js';
import type { ShopStore } from '../../store/interface/shop.js';

const DEFAULT_MAX_ENTRIES = 10_000;

/** Offers fetched for one operation: a lookup for the pure rules that also notes what was asked but not fetched. */
export class FetchedOffers {
  readonly missed: OfferRef[] = [];

  constructor(private readonly byKey: Map<string, Offer | null>) {}

  readonly lookup: OfferLookup = (ref) => {
    const found = this.byKey.get(offerKey(ref));
    if (found === undefined) this.missed.push(ref);
    return found ?? undefined;
  };

  get(ref: OfferRef): Offer | undefined {
    return this.byKey.get(offerKey(ref)) ?? undefined;
  }

  /** Adds offers fetched later (a retry after `missed`). */
  merge(other: FetchedOffers): void {
    for (const [k, v] of other.byKey) this.byKey.set(k, v);
  }

  /** Offers known some other way (e.g. a listing), so that lookups find them. */
  add(offers: readonly Offer[]): void {
    for (const o of offers) this.byKey.set(offerKey(o), o);
  }
}

export class OfferCache {
  readonly #shop: ShopStore;
  readonly #max: number;
  /** Insertion order is recency: a hit is moved to the end, the oldest goes first. */
  readonly #entries = new Map<string, Offer>();

  constructor(shop: ShopStore, maxEntries = DEFAULT_MAX_ENTRIES) {
    this.#shop = shop;
    this.#max = maxEntries;
  }

  /** The offers of `refs` (absent ones as null), from the cache or the store. */
  async fetch(partnerId: string, refs: readonly OfferRef[]): Promise<FetchedOffers> {
    const byKey = new Map<string, Offer | null>();
    const wanted: OfferRef[] = [];
    for (const ref of refs) {
      const k = offerKey(ref);
      if (byKey.has(k)) continue;
      const hit = this.#entries.get(`${partnerId}\u0000${k}`);
      if (hit) {
        this.#touch(`${partnerId}\u0000${k}`, hit);
        byKey.set(k, hit);
      } else {
        byKey.set(k, null);
        wanted.push(ref);
      }
    }
    const found = await Promise.all(wanted.map((ref) => this.#shop.getOffer(partnerId, ref)));
    for (const [i, offer] of found.entries()) {
      if (!offer) continue;
      const k = offerKey(wanted[i]!);
      byKey.set(k, offer);
      this.#touch(`${partnerId}\u0000${k}`, offer);
    }
    return new FetchedOffers(byKey);
  }

  #touch(key: string, offer: Offer): void {
    this.#entries.delete(key);
    this.#entries.set(key, offer);
    if (this.#entries.size > this.#max) this.#entries.delete(this.#entries.keys().next().value!);
  }
}
