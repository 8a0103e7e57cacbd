/**
 * TV to shop (shop-api.md §3.2 `jayToken`): a device transfer token (device spec §3.8) is redeemed once, through
 * the transfer service, and the transferred cart's lines become order items. A product whose id is the product code
 * of one of the partner's one-off offers (term null) becomes that offer's newest version; any other product is a
 * plain product item priced from the device catalogue. The device basket is only read.
 */
import { BasketError } from '../../domain/errors.js';
import { badRequest } from '../../domain/shop/errors.js';
import { MAX_QUANTITY, type ItemRequest } from '../../domain/shop/items.js';
import type { Offer } from '../../domain/shop/records.js';
import type { ShopStore } from '../../store/interface/shop.js';
import type { BasketStore, CatalogueStore } from '../../store/store.js';
import type { TransferService } from '../transfer.js';

/** Offers scanned for one-off product codes (a partner's whole offer list, in practice). */
const OFFER_SCAN_LIMIT = 1000;

export interface TvBasket {
  /** The device user whose basket was transferred. */
  userId: string;
  requests: ItemRequest[];
  /** The one-off offers the requests name (so the caller's lookup finds them). */
  offers: Offer[];
  /** Cart lines left out: not in the catalogue, or without a price. */
  skipped: string[];
}

export interface TvToShopOptions {
  transfers: Pick<TransferService, 'take'>;
  store: BasketStore & CatalogueStore;
  shop: ShopStore;
}

export class TvToShop {
  constructor(private readonly opts: TvToShopOptions) {}

  /** Redeems `jayToken` for the partner (once) and turns the cart into item requests. 400 for any bad token. */
  async redeem(partnerId: string, jayToken: string): Promise<TvBasket> {
    let userId: string;
    try {
      // a token of another partner is refused without being consumed
      userId = (await this.opts.transfers.take(jayToken, partnerId)).userId;
    } catch (err) {
      if (err instanceof BasketError && err.kind === 'TRANSFER_TOKEN_INVALID') throw badRequest('jayToken is unknown, used or expired');
      throw err;
    }
    const stored = await this.opts.store.getBasket({ partnerId, userId });
    const lines = stored?.state.cart ?? [];
    if (lines.length === 0) return { userId, requests: [], offers: [], skipped: [] };

    const oneOff = new Map<string, Offer>();
    for (const offer of await this.opts.shop.listNewestOffers(partnerId, OFFER_SCAN_LIMIT)) {
      if (offer.type !== 'offer' || offer.term !== null) continue;
      // the first offer by id wins when two sell the same product
      for (const p of offer.products) if (!oneOff.has(p.productCode)) oneOff.set(p.productCode, offer);
    }
    const others = lines.filter((l) => !oneOff.has(l.productId)).map((l) => l.productId);
    const products = others.length > 0 ? await this.opts.store.getProducts(partnerId, others) : new Map();

    const requests: ItemRequest[] = [];
    const offers: Offer[] = [];
    const skipped: string[] = [];
    for (const line of lines) {
      // a device line may hold more than a shop item (LINE_MAX_COUNT can exceed 99)
      const quantity = Math.min(line.count, MAX_QUANTITY);
      const offer = oneOff.get(line.productId);
      if (offer) {
        offers.push(offer);
        requests.push({ type: 'offer', offer: { id: offer.id, version: offer.version }, quantity, parentId: null });
        continue;
      }
      const product = products.get(line.productId);
      if (!product || product.price === null) {
        skipped.push(line.productId);
        continue;
      }
      requests.push({
        type: 'product',
        productId: product.productId,
        quantity,
        name: product.name,
        unitPrice: product.price,
        currency: product.currency,
        taxRateBp: product.taxRateBp,
      });
    }
    return { userId, requests, offers, skipped };
  }
}
