/**
 * The shop checkout's services, built together (server.ts) and handed to the shop route plugins as one bundle.
 */
import type { PartnerConfig } from '../../config.js';
import type { PspRegistry } from '../../psp/psp.js';
import type { ShopStore } from '../../store/interface/shop.js';
import type { BasketStore, CatalogueStore, OutboxStore } from '../../store/store.js';
import type { Logger } from '../checkout.js';
import type { TransferService } from '../transfer.js';
import { AbandonedService } from './abandoned.js';
import { ShopBasketService } from './baskets.js';
import { ShopOrderDelivery } from './delivery.js';
import { OfferCache } from './offers.js';
import { ShopOrderService } from './orders.js';
import { SubscriptionChangeService } from './subscription-changes.js';
import { TvToShop } from './tv.js';

export interface ShopCheckout {
  baskets: ShopBasketService;
  orders: ShopOrderService;
  abandoned: AbandonedService;
  /** The `shop.order` outbox handler (`shop.payment-deadline`'s is orders.paymentDeadline). */
  delivery: ShopOrderDelivery;
  offers: OfferCache;
  /** Subscription changes (§3.4–§3.6), their submission (the orders' `update_subscription` hook) and the outbox handler. */
  subscriptions: SubscriptionChangeService;
}

export interface ShopCheckoutDeps {
  shop: ShopStore;
  /** The device store: transferred baskets and their catalogue (TV to shop), the outbox (order delivery). */
  store: BasketStore & CatalogueStore & OutboxStore;
  transfers: Pick<TransferService, 'take'>;
  psps: PspRegistry;
  partner: (partnerId: string) => PartnerConfig | undefined;
  /** HMAC keys of the abandoned cursor and of recovery tokens. */
  cursorKey: Buffer;
  recoveryKey: Buffer;
  publicUrl: { readonly base: string };
  /** How long a payment confirmed by webhook may stay unpaid (PAYMENT_TTL, as on the device surface). */
  paymentMs: number;
  now: () => number;
  log: Logger;
}

export function createShopCheckout(d: ShopCheckoutDeps): ShopCheckout {
  const offers = new OfferCache(d.shop);
  const tv = new TvToShop({ transfers: d.transfers, store: d.store, shop: d.shop });
  const subscriptions = new SubscriptionChangeService({ shop: d.shop, outbox: d.store, offers, psps: d.psps, now: d.now, log: d.log });
  return {
    offers,
    subscriptions,
    baskets: new ShopBasketService({ shop: d.shop, offers, tv, now: d.now }),
    orders: new ShopOrderService({
      shop: d.shop,
      outbox: d.store,
      psps: d.psps,
      now: d.now,
      log: d.log,
      subscriptionChange: subscriptions,
      partner: d.partner,
      paymentMs: d.paymentMs,
    }),
    abandoned: new AbandonedService({ shop: d.shop, offers, cursorKey: d.cursorKey, recoveryKey: d.recoveryKey, publicUrl: d.publicUrl, now: d.now }),
    delivery: new ShopOrderDelivery({ shop: d.shop, partner: d.partner, now: d.now, log: d.log }),
  };
}
