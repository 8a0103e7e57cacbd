/**
 * Checkout baskets (shop-api.md §3.2 initiate, §3.3 update). Every write goes through the store's compare-and-set
 * (updateShopBasket) and the external id through its own compare-and-set (claimExternalId): nothing is read and then
 * written unguarded.
 *
 * Initiate with an `external_id`: the open basket it points to gets the new content (same id); a pointer to a
 * completed, submitting or expired basket is moved, by compare-and-set, to a new basket. A pointer to a basket that
 * is not written yet (its creator claimed the id and is about to write it) is written by whoever gets there first:
 * both writers hold content for the same external id, and the later write replaces the earlier, as a replace should.
 */
import { newBasketId, newItemId } from '../../domain/shop/ids.js';
import { MSG_NO_BASKET_IN_LANDING_STATE, notFound, ShopRuleError } from '../../domain/shop/errors.js';
import {
  applyActions,
  buildItems,
  isExpired,
  offerRefsOf,
  requireChangeable,
  SHOP_BASKET_MS,
  type ItemRequest,
  type OfferItemRequest,
  type UpdateAction,
} from '../../domain/shop/items.js';
import type { ShopBasket, ShopItem } from '../../domain/shop/records.js';
import type { ShopBasketChange, ShopStore, StoredShopBasket } from '../../store/interface/shop.js';
import type { FetchedOffers, OfferCache } from './offers.js';
import type { TvToShop } from './tv.js';

export interface InitiateInput {
  orderItems: OfferItemRequest[];
  externalId: string | null;
  jayToken: string | null;
  /** customerDetails, customFields, tracking, country, source: kept with the basket as given. */
  details: Record<string, unknown>;
}

export interface ShopBasketServiceOptions {
  shop: ShopStore;
  offers: OfferCache;
  /** TV to shop; absent: a `jayToken` is refused. */
  tv?: TvToShop;
  now: () => number;
}

/** Compare-and-set rounds an operation tries before it gives up (only under a storm of writers). */
const MAX_ROUNDS = 5;

export class ShopBasketService {
  readonly #o: ShopBasketServiceOptions;

  constructor(opts: ShopBasketServiceOptions) {
    this.#o = opts;
  }

  /** Creates (or replaces by external id) a basket; returns it as written. */
  async initiate(partnerId: string, input: InitiateInput): Promise<ShopBasket> {
    const { offers: cache, tv, now } = this.#o;
    const offers = await cache.fetch(partnerId, offerRefsOf([], input.orderItems));
    // the body is judged before a jayToken is redeemed, so a bad body does not use up the token
    buildItems(input.orderItems, offers.lookup, newItemId);
    let requests: ItemRequest[] = input.orderItems;
    let details = input.details;
    if (input.jayToken !== null) {
      if (!tv) throw new ShopRuleError(400, 'jayToken is not supported by this service');
      const redeemed = await tv.redeem(partnerId, input.jayToken);
      offers.add(redeemed.offers);
      requests = [...requests, ...redeemed.requests];
      details = {
        ...details,
        entry: details.source ?? 'tv',
        identities: [{ type: 'jay', id: redeemed.userId }],
        transfer: { userId: redeemed.userId, skipped: redeemed.skipped },
      };
    }
    const items = buildItems(requests, offers.lookup, newItemId);
    const at = now();
    const content = { items, details };
    if (input.externalId === null) {
      const id = newBasketId();
      return this.#o.shop.updateShopBasket(partnerId, id, (stored) => write(stored, partnerId, id, null, content, at));
    }
    return this.#initiateByExternalId(partnerId, input.externalId, content, at);
  }

  async #initiateByExternalId(partnerId: string, externalId: string, content: Content, at: number): Promise<ShopBasket> {
    const { shop } = this.#o;
    let current = await shop.getExternalId(partnerId, externalId);
    for (let round = 0; round < MAX_ROUNDS; round++) {
      if (current !== null) {
        const pointed = current;
        const written = await shop.updateShopBasket(partnerId, pointed, (stored): ShopBasketChange<ShopBasket | null> => {
          if (stored && (stored.basket.status !== 'open' || isExpired(stored.basket, at))) return { keep: true, result: null };
          return write(stored, partnerId, pointed, externalId, content, at);
        });
        if (written) return written;
      }
      const id = newBasketId();
      const owner = await shop.claimExternalId(partnerId, externalId, id, current);
      if (owner === id) return shop.updateShopBasket(partnerId, id, (stored) => write(stored, partnerId, id, externalId, content, at));
      current = owner; // another initiate moved it first: replace what it points to now
    }
    throw new ShopRuleError(503, `The basket of external_id ${externalId} kept changing; try again`);
  }

  /** The partner's basket, or null when absent or expired. */
  async get(partnerId: string, basketId: string): Promise<ShopBasket | null> {
    const stored = await this.#o.shop.getShopBasket(partnerId, basketId);
    return stored && !isExpired(stored.basket, this.#o.now()) ? stored.basket : null;
  }

  /** Applies update actions to the basket of the landing state; 404 without one. */
  async update(partnerId: string, basketId: string | null, actions: readonly UpdateAction[]): Promise<ShopBasket> {
    const { shop, offers: cache, now } = this.#o;
    if (basketId === null) throw notFound(MSG_NO_BASKET_IN_LANDING_STATE);
    const before = await this.get(partnerId, basketId);
    if (!before) throw notFound(MSG_NO_BASKET_IN_LANDING_STATE);
    const added = actions.flatMap((a) => (a.action === 'add' ? [a.item] : []));
    const offers = await cache.fetch(partnerId, offerRefsOf(before.items, added));
    for (let round = 0; round < MAX_ROUNDS; round++) {
      offers.missed.length = 0;
      const at = now();
      const result = await shop.updateShopBasket(partnerId, basketId, (stored): ShopBasketChange<ShopBasket | null> => {
        if (!stored || isExpired(stored.basket, at)) throw notFound(MSG_NO_BASKET_IN_LANDING_STATE);
        requireChangeable(stored.basket);
        let items: ShopItem[];
        try {
          items = applyActions(stored.basket.items, actions, offers.lookup, newItemId);
        } catch (err) {
          // a concurrent update added an offer not fetched: fetch it and decide again
          if (offers.missed.length > 0) return { keep: true, result: null };
          throw err;
        }
        if (offers.missed.length > 0) return { keep: true, result: null };
        const basket: ShopBasket = { ...stored.basket, items, updated: at };
        return { basket, result: basket };
      });
      if (result) return result;
      offers.merge(await cache.fetch(partnerId, offers.missed));
    }
    throw new ShopRuleError(503, 'The basket kept changing; try again');
  }
}

interface Content {
  items: ShopItem[];
  details: Record<string, unknown>;
}

/** The write of initiate: a new basket, or the new content of an open one (its id, creation and expiry kept). */
function write(stored: StoredShopBasket | null, partnerId: string, id: string, externalId: string | null, content: Content, at: number): { basket: ShopBasket; result: ShopBasket } {
  const basket: ShopBasket = stored
    ? { ...stored.basket, orderType: 'new', externalId, items: content.items, details: content.details, updated: at }
    : {
        id,
        partnerId,
        orderType: 'new',
        externalId,
        items: content.items,
        status: 'open',
        submission: null,
        created: at,
        updated: at,
        expires: at + SHOP_BASKET_MS,
        details: content.details,
      };
  return { basket, result: basket };
}
