/**
 * The shop surface's records (checkout baskets of offers, offers, orders, subscriptions), as the service holds them:
 * money in integer minor units, times in epoch ms. The wire shapes of shop-api.md are built from these by the HTTP
 * layer; stores keep them as JSON and index only the fields named in ShopStore (src/store/interface/shop.ts).
 */

/** An offer is always addressed by id and version; a version stays addressable after a newer one is loaded. */
export interface OfferRef {
  id: string;
  version: string;
}

export type OfferType = 'offer' | 'add_on';

export interface OfferTerm {
  length: number;
  unit: 'month' | 'year';
}

export interface OfferProduct {
  productCode: string;
  path: string;
}

export interface Offer {
  id: string;
  version: string;
  name: string;
  path: string;
  type: OfferType;
  /** Minor units of `currency`, per unit (and per term for a subscription offer). */
  price: number;
  currency: string;
  /** Basis points (2000 = 20 %). */
  taxRateBp: number;
  /** null: a one-off purchase. */
  term: OfferTerm | null;
  products: OfferProduct[];
  /** Offer ids (their newest versions are what a subscription change proposes). */
  upgrades: string[];
  downgrades: string[];
  crossSells: string[];
}

export type ShopItemType = 'offer' | 'add_on' | 'product';

/** One order item of a checkout basket. */
export interface ShopItem {
  /** Unique within the basket; `remove` and `quantity` actions name it. */
  id: string;
  type: ShopItemType;
  /** Set for `offer` and `add_on` items. */
  offer: OfferRef | null;
  /** Set for `product` items (a device-catalogue product from a TV basket that no one-off offer sells). */
  productId: string | null;
  /** `add_on` items: the id of the offer item they belong to. */
  parentId: string | null;
  quantity: number;
  name: string;
  /** Minor units, taken from the offer (or product) when the item was added. */
  unitPrice: number;
  currency: string;
  taxRateBp: number;
}

export type ShopOrderType = 'new' | 'update_subscription';

/**
 * open: can be changed and is listed as abandoned while unexpired; submitting: an order for it is being placed
 * (`submission` says which, and since when); completed: the order was placed (or the subscription change applied).
 */
export type ShopBasketStatus = 'open' | 'submitting' | 'completed';

export interface ShopBasket {
  /** `basket-<uuid v4>`. */
  id: string;
  partnerId: string;
  orderType: ShopOrderType;
  /** The partner's own reference; initiate with the same external id replaces an open basket's content. */
  externalId: string | null;
  items: ShopItem[];
  status: ShopBasketStatus;
  /**
   * The order being placed or placed; kept so that a repeated submit answers the same order. `awaitingPayment`: its
   * payment was created with a provider that confirms by webhook (Stripe), so the submission is no longer a process
   * that may have died: its lease does not apply, the webhook ends it.
   */
  submission: { orderId: string; started: number; awaitingPayment?: boolean } | null;
  created: number;
  updated: number;
  /** created + the basket lifetime (14 days). */
  expires: number;
  /**
   * Everything else the shop keeps with the basket (customer details, custom fields, tracking, country, source,
   * entry, identities, the subscription change of an `update_subscription` basket, the redeemed transfer): the store
   * keeps it as given and never reads it.
   */
  details: Record<string, unknown>;
}

export type ShopOrderStatus = 'pending' | 'completed' | 'failed';

export interface ShopOrder {
  /** `order-<32 hex>`. */
  id: string;
  partnerId: string;
  basketId: string;
  externalId: string | null;
  status: ShopOrderStatus;
  /** Minor units. */
  total: number;
  currency: string;
  paymentProvider: string | null;
  /** Provider's payment reference, indexed for webhooks; null when nothing was charged. */
  paymentRef: string | null;
  created: number;
  updated: number;
  /** Order reference, subscription reference, payment fields and the rest of the answer: kept as given. */
  details: Record<string, unknown>;
}

export interface PendingSubscriptionChange {
  offer: OfferRef;
  /** Epoch ms at which the change takes effect (the end of the current term). */
  effective: number;
  /** The add-ons the subscription has once the change is applied; absent: it keeps the ones it has. */
  addOns?: OfferRef[];
}

export interface Subscription {
  id: string;
  partnerId: string;
  /** Unique per partner; a change may be started by name. */
  name: string;
  customer: { email: string; firstName: string; lastName: string };
  offer: OfferRef;
  addOns: OfferRef[];
  termStart: number;
  termEnd: number;
  pendingChange: PendingSubscriptionChange | null;
}
