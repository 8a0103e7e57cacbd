/**
 * TEMPORARY (shop-store branch, removed once every engine has its ShopStore): the shop store of an engine whose
 * adapter is not written yet. Every call rejects, so nothing can mistake it for storage; only the purge answers 0
 * (it holds nothing to purge), so that the expiry sweep of that engine keeps working meanwhile.
 */
import type { ShopStore } from '../store.js';

export function pendingShopStore(engine: string): ShopStore {
  const refuse = (): Promise<never> => Promise.reject(new Error(`the ${engine} ShopStore is not implemented yet`));
  return {
    putOffers: refuse,
    getOffer: refuse,
    getNewestOffers: refuse,
    listNewestOffers: refuse,
    getShopBasket: refuse,
    updateShopBasket: refuse,
    getExternalId: refuse,
    claimExternalId: refuse,
    listAbandoned: refuse,
    purgeExpiredShopBaskets: () => Promise.resolve(0),
    createShopOrder: refuse,
    getShopOrder: refuse,
    getShopOrderByPaymentRef: refuse,
    updateShopOrder: refuse,
    putSubscriptions: refuse,
    getSubscription: refuse,
    getSubscriptionByName: refuse,
    updateSubscription: refuse,
  };
}
