/**
 * Guest baskets (spec §3.7): a new guest user with a fresh basket and a guest JWT signed by the service, and the
 * credentials handed out when a transfer token is redeemed. Basket rules are the domain's, applied through the
 * store's compare-and-set seam (BasketService.change), so the cart limit and count rules hold here too.
 */
import type { ServiceKeys } from '../auth/service-keys.js';
import { issueGuestToken, type TokenVerifier } from '../auth/tokens.js';
import { assignProduct, validateCount, type BasketState, type ProductRef } from '../domain/basket.js';
import { productRef } from '../domain/catalogue.js';
import { BasketError } from '../domain/errors.js';
import { newGuestUserId } from '../domain/transfer-token.js';
import type { BasketOwner, BasketService } from './baskets.js';

export interface GuestProductInput {
  productId: string;
  /** Default 1; 0 puts the product on the saved list. */
  count?: number | undefined;
}

export interface GuestCredentials {
  userId: string;
  /** The guest JWT. */
  token: string;
  /** Epoch ms at which the token expires (its `exp`, whole seconds). */
  expires: number;
  basket: BasketState;
}

export interface GuestServiceOptions {
  baskets: BasketService;
  serviceKeys: ServiceKeys;
  /** Lifetime of guest tokens (and guest baskets, through BasketService). */
  guestMs: number;
  /** Told of every token issued, so that the guest's first request to this process needs no signature check. */
  tokens?: Pick<TokenVerifier, 'remember'>;
}

/** Sums the counts of repeated product ids, keeping the order in which ids first appear. */
export function mergeGuestProducts(products: readonly GuestProductInput[]): { productId: string; count: number }[] {
  const merged = new Map<string, number>();
  for (const p of products) merged.set(p.productId, (merged.get(p.productId) ?? 0) + (p.count ?? 1));
  return [...merged].map(([productId, count]) => ({ productId, count }));
}

export class GuestService {
  readonly #baskets: BasketService;
  readonly #keys: ServiceKeys;
  readonly #guestMs: number;
  readonly #tokens: Pick<TokenVerifier, 'remember'> | undefined;

  constructor(opts: GuestServiceOptions) {
    this.#baskets = opts.baskets;
    this.#keys = opts.serviceKeys;
    this.#guestMs = opts.guestMs;
    this.#tokens = opts.tokens;
  }

  /** createGuestBasket without a token: a new guest holding exactly `products`. */
  async create(partnerId: string, products: readonly GuestProductInput[]): Promise<GuestCredentials> {
    const { limits } = this.#baskets;
    const lines = mergeGuestProducts(products);
    for (const line of lines) {
      if (line.count < 0) throw countError(line.productId, 'must be 0 or more');
      try {
        validateCount(line.count, limits);
      } catch {
        throw countError(line.productId, `summed over repeated entries must be at most ${limits.maxLineCount}`);
      }
    }
    const refs = await this.#resolve(partnerId, lines.map((l) => l.productId));
    const owner: BasketOwner = { partnerId, userId: newGuestUserId(), guest: true };
    // One atomic write applying the same rule as assignProductToBasket per line (2008 beyond the cart limit).
    const basket = await this.#baskets.change(owner, (start) =>
      lines.reduce((state, line, i) => assignProduct(state, refs[i]!, line.count, limits), start),
    );
    return this.#credentials(owner, basket.state);
  }

  /** Guest credentials for an existing basket (a redeemed transfer): same user id, guest token. */
  async credentialsFor(partnerId: string, userId: string): Promise<GuestCredentials> {
    const owner: BasketOwner = { partnerId, userId, guest: true };
    return this.#credentials(owner, await this.#baskets.get(owner));
  }

  async #credentials(owner: BasketOwner, basket: BasketState): Promise<GuestCredentials> {
    const expires = Math.floor((this.#baskets.now() + this.#guestMs) / 1000) * 1000;
    const token = await issueGuestToken(this.#keys, owner.partnerId, owner.userId, expires);
    this.#tokens?.remember(token, { partnerId: owner.partnerId, userId: owner.userId, guest: true, expires });
    return { userId: owner.userId, token, expires, basket };
  }

  /** Catalogue data for each id, in order; 404 `2012` for the first unknown one (when the partner keeps a catalogue). */
  async #resolve(partnerId: string, ids: readonly string[]): Promise<ProductRef[]> {
    if (ids.length === 0) return [];
    const store = this.#baskets.store;
    const found = await store.getProducts(partnerId, ids);
    const missing = ids.find((id) => !found.has(id));
    if (missing !== undefined && (await store.hasCatalogue(partnerId))) {
      throw new BasketError('PRODUCT_NOT_FOUND', `Product ${missing} not found`);
    }
    return ids.map((id) => {
      const p = found.get(id);
      return p ? productRef(p) : { productId: id };
    });
  }
}

function countError(productId: string, why: string): BasketError {
  const message = `count of ${productId} ${why}`;
  return new BasketError('REQUEST_VALIDATION_ERROR', `body.products ${message}`, [{ field: 'body.products', message }]);
}
