/**
 * The shop surface's storage seam (shop-api.md): offers, checkout baskets with their open-basket index (abandoned
 * baskets), orders and subscriptions. Its own interface, reached as `store.shop`, so that the device `Store` does not
 * grow the shop's methods; each engine implements it on the connection it already holds. Records are kept as JSON;
 * only the fields named here are indexed. Times are epoch ms passed in by the caller.
 */
import type { Offer, OfferRef, ShopBasket, ShopOrder, Subscription } from '../../domain/shop/records.js';

export interface StoredShopBasket {
  basket: ShopBasket;
  /** Increases by one on every write; the compare-and-set token. */
  version: number;
}

/** What an update function decides: write the basket (create it, when there was none), or keep what is stored. */
export type ShopBasketChange<R> = { basket: ShopBasket; result: R } | { keep: true; result: R };

/**
 * Pure and synchronous: may run more than once when a concurrent write wins. Throwing aborts without writing and the
 * error reaches the caller unchanged. The basket it returns must keep the id and partner it was asked for.
 */
export type ShopBasketUpdater<R> = (current: StoredShopBasket | null) => ShopBasketChange<R>;

/** Position in the abandoned listing, ordered by (created, id). */
export interface ShopKeyset {
  created: number;
  id: string;
}

export interface AbandonedQuery {
  partnerId: string;
  /** Only baskets created strictly after this time. */
  createdAfter: number;
  /** Only baskets after this position (exclusive); null: from the start. */
  after: ShopKeyset | null;
  /** Baskets expiring at or before `now` are left out. */
  now: number;
  limit: number;
}

export interface ShopStore {
  // --- offers -------------------------------------------------------------------------------------------------
  /**
   * Loads offers, all or nothing. A version not held yet is added and becomes the offer's newest (within one call,
   * the later entry wins); the same {id, version} with the same content again is a no-op; with other content it
   * rejects with OfferVersionConflictError and nothing of the call is written.
   */
  putOffers(partnerId: string, offers: readonly Offer[]): Promise<void>;
  getOffer(partnerId: string, ref: OfferRef): Promise<Offer | null>;
  /** The newest version of each id that exists, in the order asked (missing ids are left out). */
  getNewestOffers(partnerId: string, ids: readonly string[]): Promise<Offer[]>;
  /** Newest version of every offer of the partner, by id, at most `limit`. */
  listNewestOffers(partnerId: string, limit: number): Promise<Offer[]>;

  // --- checkout baskets ---------------------------------------------------------------------------------------
  getShopBasket(partnerId: string, basketId: string): Promise<StoredShopBasket | null>;
  /**
   * Reads the basket, applies `fn`, and writes only if the version is still the one read (else reads again and
   * re-applies). `fn(null)` may create the basket. The open-basket index follows the written status: a basket is
   * listed by listAbandoned while its status is `open`. Returns `fn`'s result of the committed attempt.
   */
  updateShopBasket<R>(partnerId: string, basketId: string, fn: ShopBasketUpdater<R>): Promise<R>;
  /** The basket id the partner's external id points to, or null. */
  getExternalId(partnerId: string, externalId: string): Promise<string | null>;
  /**
   * Points the external id to `basketId` if it still points to `expected` (null: points nowhere); returns what it
   * points to afterwards (so the caller sees whether it won a race).
   */
  claimExternalId(partnerId: string, externalId: string, basketId: string, expected: string | null): Promise<string>;
  /**
   * Open baskets of the partner created after `createdAfter` and unexpired at `now`, ordered by (created, id), after
   * `after`, at most `limit` (1..1000). Served from an index (no scan of other partners' or completed baskets).
   */
  listAbandoned(query: AbandonedQuery): Promise<ShopBasket[]>;
  /** Deletes up to `limit` baskets (with their index entries and external ids) that expired at or before `now`. */
  purgeExpiredShopBaskets(now: number, limit: number): Promise<number>;

  // --- orders -------------------------------------------------------------------------------------------------
  /** Inserts a new order; rejects with DuplicateOrderError if the id exists for the partner. */
  createShopOrder(order: ShopOrder): Promise<void>;
  getShopOrder(partnerId: string, orderId: string): Promise<ShopOrder | null>;
  getShopOrderByPaymentRef(provider: string, paymentRef: string): Promise<ShopOrder | null>;
  /** Atomic read-modify-write; `fn` returning null keeps the order. Null when not found. */
  updateShopOrder(partnerId: string, orderId: string, fn: (order: ShopOrder) => ShopOrder | null): Promise<ShopOrder | null>;

  // --- subscriptions ------------------------------------------------------------------------------------------
  /** Creates or replaces subscriptions, all or nothing; a name already used by another id of the partner rejects (SubscriptionNameConflictError). */
  putSubscriptions(partnerId: string, subscriptions: readonly Subscription[]): Promise<void>;
  getSubscription(partnerId: string, id: string): Promise<Subscription | null>;
  getSubscriptionByName(partnerId: string, name: string): Promise<Subscription | null>;
  /** Atomic read-modify-write; `fn` returning null keeps it; id, partner and name must not change. Null when not found. */
  updateSubscription(partnerId: string, id: string, fn: (subscription: Subscription) => Subscription | null): Promise<Subscription | null>;
}

/** The device store offers the shop's store beside it, on the same connection. */
export interface ShopStoreHost {
  readonly shop: ShopStore;
}

/** putOffers with a {id, version} already held with other content: versions are immutable. */
export class OfferVersionConflictError extends Error {
  constructor(readonly ref: OfferRef) {
    super(`offer ${ref.id} version ${ref.version} already exists with other content; load a new version instead`);
    this.name = 'OfferVersionConflictError';
  }
}

/** putSubscriptions with a name another subscription of the partner has. */
export class SubscriptionNameConflictError extends Error {
  constructor(readonly subscriptionName: string) {
    super(`subscription name ${JSON.stringify(subscriptionName)} is already used by another subscription`);
    this.name = 'SubscriptionNameConflictError';
  }
}
