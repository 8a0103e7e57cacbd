/**
 * The ShopStore every engine builds (`store.shop`): each call goes to the module of its concern (offers, baskets,
 * orders, subscriptions), as ComposedStore does for the device store. An engine's `shop/index.ts` builds the modules
 * on its connection and hands them in.
 */
import type { Offer, OfferRef, ShopBasket, ShopOrder, Subscription } from '../../domain/shop/records.js';
import type { AbandonedQuery, ShopBasketUpdater, ShopStore, StoredShopBasket } from '../store.js';

export type ShopOfferStore = Pick<ShopStore, 'putOffers' | 'getOffer' | 'getNewestOffers' | 'listNewestOffers'>;
export type ShopBasketStore = Pick<
  ShopStore,
  'getShopBasket' | 'updateShopBasket' | 'getExternalId' | 'claimExternalId' | 'listAbandoned' | 'purgeExpiredShopBaskets'
>;
export type ShopOrderStore = Pick<ShopStore, 'createShopOrder' | 'getShopOrder' | 'getShopOrderByPaymentRef' | 'updateShopOrder'>;
export type ShopSubscriptionStore = Pick<ShopStore, 'putSubscriptions' | 'getSubscription' | 'getSubscriptionByName' | 'updateSubscription'>;

export interface ShopStoreParts {
  offers: ShopOfferStore;
  baskets: ShopBasketStore;
  orders: ShopOrderStore;
  subscriptions: ShopSubscriptionStore;
}

export class ComposedShopStore<P extends ShopStoreParts = ShopStoreParts> implements ShopStore {
  protected readonly offers: P['offers'];
  protected readonly baskets: P['baskets'];
  protected readonly orders: P['orders'];
  protected readonly subscriptions: P['subscriptions'];

  constructor(parts: P) {
    this.offers = parts.offers;
    this.baskets = parts.baskets;
    this.orders = parts.orders;
    this.subscriptions = parts.subscriptions;
  }

  putOffers(partnerId: string, offers: readonly Offer[]): Promise<void> {
    return this.offers.putOffers(partnerId, offers);
  }
  getOffer(partnerId: string, ref: OfferRef): Promise<Offer | null> {
    return this.offers.getOffer(partnerId, ref);
  }
  getNewestOffers(partnerId: string, ids: readonly string[]): Promise<Offer[]> {
    return this.offers.getNewestOffers(partnerId, ids);
  }
  listNewestOffers(partnerId: string, limit: number): Promise<Offer[]> {
    return this.offers.listNewestOffers(partnerId, limit);
  }

  getShopBasket(partnerId: string, basketId: string): Promise<StoredShopBasket | null> {
    return this.baskets.getShopBasket(partnerId, basketId);
  }
  updateShopBasket<R>(partnerId: string, basketId: string, fn: ShopBasketUpdater<R>): Promise<R> {
    return this.baskets.updateShopBasket(partnerId, basketId, fn);
  }
  getExternalId(partnerId: string, externalId: string): Promise<string | null> {
    return this.baskets.getExternalId(partnerId, externalId);
  }
  claimExternalId(partnerId: string, externalId: string, basketId: string, expected: string | null): Promise<string> {
    return this.baskets.claimExternalId(partnerId, externalId, basketId, expected);
  }
  listAbandoned(query: AbandonedQuery): Promise<ShopBasket[]> {
    return this.baskets.listAbandoned(query);
  }
  purgeExpiredShopBaskets(now: number, limit: number): Promise<number> {
    return this.baskets.purgeExpiredShopBaskets(now, limit);
  }

  createShopOrder(order: ShopOrder): Promise<void> {
    return this.orders.createShopOrder(order);
  }
  getShopOrder(partnerId: string, orderId: string): Promise<ShopOrder | null> {
    return this.orders.getShopOrder(partnerId, orderId);
  }
  getShopOrderByPaymentRef(provider: string, paymentRef: string): Promise<ShopOrder | null> {
    return this.orders.getShopOrderByPaymentRef(provider, paymentRef);
  }
  updateShopOrder(partnerId: string, orderId: string, fn: (order: ShopOrder) => ShopOrder | null): Promise<ShopOrder | null> {
    return this.orders.updateShopOrder(partnerId, orderId, fn);
  }

  putSubscriptions(partnerId: string, subscriptions: readonly Subscription[]): Promise<void> {
    return this.subscriptions.putSubscriptions(partnerId, subscriptions);
  }
  getSubscription(partnerId: string, id: string): Promise<Subscription | null> {
    return this.subscriptions.getSubscription(partnerId, id);
  }
  getSubscriptionByName(partnerId: string, name: string): Promise<Subscription | null> {
    return this.subscriptions.getSubscriptionByName(partnerId, name);
  }
  updateSubscription(partnerId: string, id: string, fn: (subscription: Subscription) => Subscription | null): Promise<Subscription | null> {
    return this.subscriptions.updateSubscription(partnerId, id, fn);
  }
}
