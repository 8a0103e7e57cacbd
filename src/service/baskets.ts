/**
 * Basket operations of the device surface: each one resolves what it needs from the catalogue, then changes
 * the basket through the store's single compare-and-set seam with a pure domain rule.
 */
import {
  assignProduct,
  clearBasket,
  emptyBasket,
  isInBasket,
  liveBasket,
  removeProduct,
  touch,
  updateProduct,
  validateCount,
  type BasketLimits,
  type BasketState,
  type ProductRef,
} from '../domain/basket.js';
import { productRef, type ProductInput } from '../domain/catalogue.js';
import { BasketError } from '../domain/errors.js';
import type { BasketKey, BasketStore, CatalogueStore, StoredBasket } from '../store/store.js';
import { productInfo, type ProductInfo } from './catalogue.js';

/** What the basket service keeps in the store: the baskets, and the catalogue they are checked against. */
export type BasketServiceStore = BasketStore & CatalogueStore;

export interface BasketServiceOptions {
  store: BasketServiceStore;
  limits: BasketLimits;
  /** Sliding lifetime of a partner user's basket. */
  basketMs: number;
  /** Lifetime of a guest's basket. */
  guestMs: number;
  /**
   * How long a product found in the catalogue may be reused when adding to a basket, so the hot path skips a
   * store read; 0 reads every time. Writes through this service are seen at once, other processes' within it.
   */
  productCacheMs?: number;
  now?: () => number;
  /** Monotonic clock of the product cache (tests); default performance.now. */
  monotonic?: () => number;
}

/** Most products remembered for adding to baskets (oldest forgotten first). */
const PRODUCT_CACHE_ENTRIES = 10_000;

/** Who a basket belongs to; guests get the guest lifetime. */
export interface BasketOwner extends BasketKey {
  guest: boolean;
}

type Rule = (state: BasketState) => BasketState;

export class BasketService {
  readonly store: BasketServiceStore;
  readonly limits: BasketLimits;
  readonly now: () => number;
  private readonly basketMs: number;
  private readonly guestMs: number;
  private readonly productCacheMs: number;
  private readonly monotonic: () => number;
  /** `partnerId productId` → catalogue hit (partner ids hold no space); only hits are kept, never "unknown". */
  private readonly productRefs = new Map<string, { ref: ProductRef; until: number }>();
  /** Counts catalogue writes through this service: a lookup that overlapped one does not remember its read. */
  private catalogueWrites = 0;

  constructor(opts: BasketServiceOptions) {
    this.store = opts.store;
    this.limits = opts.limits;
    this.basketMs = opts.basketMs;
    this.guestMs = opts.guestMs;
    this.productCacheMs = opts.productCacheMs ?? 0;
    this.now = opts.now ?? Date.now;
    this.monotonic = opts.monotonic ?? (() => performance.now());
  }

  lifetime(owner: BasketOwner): number {
    return owner.guest ? this.guestMs : this.basketMs;
  }

  /** The basket as the user sees it: absent or expired reads as a fresh empty one. */
  async get(owner: BasketOwner): Promise<BasketState> {
    const now = this.now();
    return this.seen(owner, await this.store.getBasket(owner), now);
  }

  /** get() answered without a promise when the store can (SQLite); undefined when it cannot. */
  getSync(owner: BasketOwner): BasketState | undefined {
    if (!this.store.getBasketSync) return undefined;
    const now = this.now();
    return this.seen(owner, this.store.getBasketSync(owner), now);
  }

  private seen(owner: BasketOwner, stored: StoredBasket | null, now: number): BasketState {
    return liveBasket(stored?.state, now) ?? emptyBasket(now, this.lifetime(owner));
  }

  /**
   * Applies `rule` atomically. A rule that returns its input unchanged writes nothing; any change is stamped
   * with lastChanged and a slid expiry.
   */
  // not async: the store's promise is handed on as it is, a promise fewer on every write
  change(owner: BasketOwner, rule: Rule): Promise<BasketState> {
    const now = this.now();
    const lifetime = this.lifetime(owner);
    return this.store.updateBasket(owner, (current) => {
      const base = liveBasket(current?.state, now) ?? emptyBasket(now, lifetime);
      const next = rule(base);
      if (next === base) return { keep: true, result: base };
      const stamped = touch(next, now, lifetime);
      return { state: stamped, result: stamped };
    });
  }

  /** A product as the catalogue knows it; any id when the partner keeps no catalogue; null when unknown. */
  async lookupProduct(partnerId: string, productId: string): Promise<ProductRef | null> {
    const cacheKey = productCacheKey(partnerId, productId);
    if (this.productCacheMs > 0) {
      const hit = this.productRefs.get(cacheKey);
      if (hit && hit.until > this.monotonic()) return hit.ref;
    }
    const writesBefore = this.catalogueWrites;
    const found = (await this.store.getProducts(partnerId, [productId])).get(productId);
    if (found) {
      const ref = productRef(found);
      // a write that finished while this read was under way may have made it stale: use it, don't keep it
      if (this.productCacheMs > 0 && writesBefore === this.catalogueWrites) this.rememberProduct(cacheKey, ref);
      return ref;
    }
    return (await this.store.hasCatalogue(partnerId)) ? null : { productId };
  }

  private rememberProduct(cacheKey: string, ref: ProductRef): void {
    this.productRefs.delete(cacheKey);
    if (this.productRefs.size >= PRODUCT_CACHE_ENTRIES) this.productRefs.delete(this.productRefs.keys().next().value!);
    this.productRefs.set(cacheKey, { ref, until: this.monotonic() + this.productCacheMs });
  }

  /** Writes products to the catalogue; this process stops using what it remembered of them at once. */
  async upsertProducts(partnerId: string, products: readonly ProductInput[]): Promise<number> {
    try {
      return await this.store.upsertProducts(partnerId, products);
    } finally {
      this.catalogueWrites++;
      for (const p of products) this.productRefs.delete(productCacheKey(partnerId, p.productId));
    }
  }

  async resolveProduct(partnerId: string, productId: string): Promise<ProductRef> {
    const ref = await this.lookupProduct(partnerId, productId);
    if (ref === null) throw productNotFound(productId);
    return ref;
  }

  async assign(owner: BasketOwner, productId: string, count: number): Promise<BasketState> {
    validateCount(count, this.limits);
    // removal never needs the catalogue: a delisted product must still be removable
    const product = count === -1 ? { productId } : await this.resolveProduct(owner.partnerId, productId);
    return this.change(owner, (s) => assignProduct(s, product, count, this.limits));
  }

  async update(owner: BasketOwner, productId: string, count: number | null): Promise<BasketState> {
    if (count === null || count === -1) {
      return this.change(owner, (s) => updateProduct(s, { productId }, count, this.limits));
    }
    validateCount(count, this.limits);
    const product = await this.lookupProduct(owner.partnerId, productId);
    return this.change(owner, (s) => {
      // "not in the basket" answers before "not in the catalogue"
      if (product === null) throw isInBasket(s, productId) ? productNotFound(productId) : new BasketError('PRODUCT_NOT_IN_BASKET');
      return updateProduct(s, product, count, this.limits);
    });
  }

  removeProduct(owner: BasketOwner, productId: string): Promise<BasketState> {
    return this.change(owner, (s) => removeProduct(s, productId));
  }

  clear(owner: BasketOwner): Promise<BasketState> {
    return this.change(owner, clearBasket);
  }

  /** Known products in the order asked, each once; unknown ids are left out. */
  async productDetails(partnerId: string, productIds: readonly string[]): Promise<ProductInfo[]> {
    const unique = [...new Set(productIds)];
    const found = await this.store.getProducts(partnerId, unique);
    const out: ProductInfo[] = [];
    for (const id of unique) {
      const p = found.get(id);
      if (p) out.push(productInfo(p));
    }
    return out;
  }
}

function productCacheKey(partnerId: string, productId: string): string {
  return `${partnerId} ${productId}`;
}

function productNotFound(productId: string): BasketError {
  return new BasketError('PRODUCT_NOT_FOUND', `Product ${productId} not found`);
}
