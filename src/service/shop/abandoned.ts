/**
 * Abandoned baskets (shop-api.md §3.1) and their recovery links (§3.8). The listing is the store's keyset index
 * (open baskets by (created, id)); the cursor and the recovery token are signed (src/domain/shop/signed.ts) with
 * keys of their own.
 */
import { badRequest } from '../../domain/shop/errors.js';
import { isExpired } from '../../domain/shop/items.js';
import type { Offer, ShopBasket } from '../../domain/shop/records.js';
import { decodeCursor, encodeCursor, recoveryToken, verifyRecoveryToken } from '../../domain/shop/signed.js';
import type { ShopStore } from '../../store/interface/shop.js';
import type { FetchedOffers, OfferCache } from './offers.js';

export interface AbandonedQueryInput {
  createdAfter: number;
  limit: number;
  queryMore: string | null;
}

export interface AbandonedPage {
  baskets: ShopBasket[];
  /** The cursor of the next page; null when none remain. */
  queryMore: string | null;
  /** The offers the baskets' items name (for their paths and products). */
  offers: FetchedOffers;
}

export interface AbandonedServiceOptions {
  shop: ShopStore;
  offers: OfferCache;
  /** HMAC keys: one for cursors, one for recovery tokens. */
  cursorKey: Buffer;
  recoveryKey: Buffer;
  /** This service's public base URL (recovery links), read when a link is made. */
  publicUrl: { readonly base: string };
  now: () => number;
}

export const MAX_ABANDONED_LIMIT = 100;

export class AbandonedService {
  readonly #o: AbandonedServiceOptions;

  constructor(opts: AbandonedServiceOptions) {
    this.#o = opts;
  }

  async list(partnerId: string, q: AbandonedQueryInput): Promise<AbandonedPage> {
    const { shop, offers, cursorKey, now } = this.#o;
    if (!Number.isInteger(q.limit) || q.limit < 1 || q.limit > MAX_ABANDONED_LIMIT) throw badRequest(`limit must be an integer from 1 to ${MAX_ABANDONED_LIMIT}`);
    const after = q.queryMore === null ? null : decodeCursor(cursorKey, partnerId, q.queryMore);
    // one more than asked tells whether another page exists
    const found = await shop.listAbandoned({ partnerId, createdAfter: q.createdAfter, after, now: now(), limit: q.limit + 1 });
    const baskets = found.slice(0, q.limit);
    const last = baskets.at(-1);
    const queryMore = found.length > q.limit && last ? encodeCursor(cursorKey, partnerId, { created: last.created, id: last.id }) : null;
    const refs = baskets.flatMap((b) => b.items.flatMap((i) => (i.offer ? [i.offer] : [])));
    return { baskets, queryMore, offers: await offers.fetch(partnerId, refs) };
  }

  /** `<PUBLIC_URL>/api/checkout/recover?basket=<id>&recover=<signed token>`. */
  recoveryLink(basket: ShopBasket): string {
    const token = recoveryToken(this.#o.recoveryKey, basket.partnerId, basket.id, basket.expires);
    return `${this.#o.publicUrl.base}/api/checkout/recover?basket=${encodeURIComponent(basket.id)}&recover=${encodeURIComponent(token)}`;
  }

  /**
   * The open basket a recovery link names; 400 for a bad or expired token or a basket that can no longer be
   * recovered (completed, being ordered, expired, gone).
   */
  async recover(basketId: string, token: string): Promise<ShopBasket> {
    const { shop, recoveryKey, now } = this.#o;
    const at = now();
    const claim = verifyRecoveryToken(recoveryKey, basketId, token, at);
    if (!claim) throw badRequest('The recovery link is invalid or has expired');
    const stored = await shop.getShopBasket(claim.partnerId, basketId);
    const b = stored?.basket;
    if (!b || b.expires !== claim.expires || isExpired(b, at)) throw badRequest('The recovery link is invalid or has expired');
    if (b.status === 'completed') throw badRequest('The basket was already ordered');
    if (b.status !== 'open') throw badRequest('The basket is being ordered');
    return b;
  }
}

/** The offer of an item for views; null for product items and offers no longer held. */
export function offerOf(offers: FetchedOffers, item: ShopBasket['items'][number]): Offer | null {
  return item.offer ? (offers.get(item.offer) ?? null) : null;
}
