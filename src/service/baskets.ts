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
import { productRef, type Product, type ProductInput } from '../domain/catalogue.js';
import { BasketError } from '../domain/errors.js';
import { basketProblems, type BasketProblem } from '../domain/problems.js';
import { checkPrecondition, type Precondition } from '../domain/versions.js';
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
   * How long what the catalogue said of a product may be reused (adding to a basket, basket problems), so the hot
   * paths skip a store read; 0 reads every time. Writes through this service are seen at once, other processes'
   * (and stock held by reservations) within it.
   */
  productCacheMs?: number;
  now?: () => number;
  /** Monotonic clock of the product cache (tests); default performance.now. */
  monotonic?: () => number;
}

/** Most products remembered per partner (oldest forgotten first). */
const PRODUCT_CACHE_ENTRIES = 10_000;

/** Who a basket belongs to; guests get the guest lifetime. */
export interface BasketOwner extends BasketKey {
  guest: boolean;
}

/**
 * A basket as answered, with the version its ETag carries: the stored version of a live basket, 0 for one that is
 * absent or expired (src/domain/versions.ts). A StoredBasket is one (no copy on the read path).
 */
export interface VersionedBasket {
  readonly state: BasketState;
  readonly version: number;
}

export interface ChangeOptions {
  /** The client's If-Match, checked against the version the update reads (412 when it does not hold). */
  expect?: Precondition | undefined;
}

type Rule = (state: BasketState) => BasketState;

/** What the catalogue said of a product, until when: `null` when it was not there. */
interface CachedProduct {
  product: Product | null;
  until: number;
}

export class BasketService {
  readonly store: BasketServiceStore;
  readonly limits: BasketLimits;
  readonly now: () => number;
  private readonly basketMs: number;
  private readonly guestMs: number;
  private readonly productCacheMs: number;
  private readonly monotonic: () => number;
  /**
   * partnerId → productId → what the catalogue said (nested: the hot GET looks up every line without building a
   * key). Adding to a basket uses hits only, never a remembered "unknown"; basket problems use both.
   */
  private readonly products = new Map<string, Map<string, CachedProduct>>();
  /** partnerId → whether it keeps a catalogue, until when. */
  private readonly catalogues = new Map<string, { has: boolean; until: number }>();
  /** A shared (frozen) state's problems, while every catalogue entry they came from is current. */
  private readonly problemMemo = new WeakMap<BasketState, { problems: BasketProblem[]; until: number; writes: number }>();
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
    return (await this.read(owner)).state;
  }

  /** get() with the basket's version (one store read: the version comes with the state). */
  async read(owner: BasketOwner): Promise<VersionedBasket> {
    const now = this.now();
    return this.seen(owner, await this.store.getBasket(owner), now);
  }

  /** read() answered without a promise when the store can (SQLite); undefined when it cannot. */
  readSync(owner: BasketOwner): VersionedBasket | undefined {
    if (!this.store.getBasketSync) return undefined;
    const now = this.now();
    return this.seen(owner, this.store.getBasketSync(owner), now);
  }

  private seen(owner: BasketOwner, stored: StoredBasket | null, now: number): VersionedBasket {
    if (stored !== null && liveBasket(stored.state, now) !== null) return stored;
    return { state: emptyBasket(now, this.lifetime(owner)), version: 0 };
  }

  /**
   * Applies `rule` atomically. A rule that returns its input unchanged writes nothing; any change is stamped
   * with lastChanged and a slid expiry. `expect` (If-Match) is checked against the version this very update read,
   * so no write can slip in between. A guest basket merged into an account refuses every change (410).
   */
  // not async: the store's promise is handed on as it is, a promise fewer on every write
  change(owner: BasketOwner, rule: Rule, opts?: ChangeOptions): Promise<VersionedBasket> {
    const now = this.now();
    const lifetime = this.lifetime(owner);
    const expect = opts?.expect;
    return this.store.updateBasket(owner, (current) => {
      const live = liveBasket(current?.state, now);
      const version = live === null ? 0 : current!.version;
      if (expect !== undefined) checkPrecondition(expect, version);
      const base = live ?? emptyBasket(now, lifetime);
      const next = rule(base);
      if (next === base) return { keep: true, result: { state: base, version } };
      if (base.mergedInto) throw new BasketError('GUEST_BASKET_MERGED');
      const stamped = touch(next, now, lifetime);
      // every store counts a basket's writes from 1 (BasketStore.updateBasket)
      return { state: stamped, result: { state: stamped, version: (current?.version ?? 0) + 1 } };
    });
  }

  /**
   * The compare-and-set under the merge protocol (src/service/merge.ts), which must write baskets change() refuses
   * (a merged guest basket) and read what it decides from. `fn` gets the live basket (or a fresh empty one), its
   * version as clients see it, and the version a write replaces; it answers the new state or null (no write).
   */
  changeStored<R>(
    owner: BasketOwner,
    fn: (base: BasketState, version: number, storedVersion: number) => { next: BasketState | null; result: R },
  ): Promise<{ basket: VersionedBasket; result: R }> {
    const now = this.now();
    const lifetime = this.lifetime(owner);
    return this.store.updateBasket(owner, (current) => {
      const live = liveBasket(current?.state, now);
      const version = live === null ? 0 : current!.version;
      const base = live ?? emptyBasket(now, lifetime);
      const storedVersion = current?.version ?? 0;
      const { next, result } = fn(base, version, storedVersion);
      if (next === null || next === base) return { keep: true, result: { basket: { state: base, version }, result } };
      const stamped = touch(next, now, lifetime);
      return { state: stamped, result: { basket: { state: stamped, version: storedVersion + 1 }, result } };
    });
  }

  /** A product as the catalogue knows it; any id when the partner keeps no catalogue; null when unknown. */
  async lookupProduct(partnerId: string, productId: string): Promise<ProductRef | null> {
    if (this.productCacheMs > 0) {
      const hit = this.products.get(partnerId)?.get(productId);
      if (hit && hit.product !== null && hit.until > this.monotonic()) return productRef(hit.product);
    }
    const writesBefore = this.catalogueWrites;
    const found = (await this.store.getProducts(partnerId, [productId])).get(productId);
    if (found) {
      // a write that finished while this read was under way may have made it stale: use it, don't keep it
      if (this.productCacheMs > 0 && writesBefore === this.catalogueWrites) this.rememberProduct(partnerId, productId, found);
      return productRef(found);
    }
    return (await this.hasCatalogue(partnerId)) ? null : { productId };
  }

  private rememberProduct(partnerId: string, productId: string, product: Product | null): void {
    let known = this.products.get(partnerId);
    if (known === undefined) {
      known = new Map();
      this.products.set(partnerId, known);
    }
    known.delete(productId);
    if (known.size >= PRODUCT_CACHE_ENTRIES) known.delete(known.keys().next().value!);
    known.set(productId, { product, until: this.monotonic() + this.productCacheMs });
  }

  private async hasCatalogue(partnerId: string): Promise<boolean> {
    const known = this.catalogues.get(partnerId);
    if (known && known.until > this.monotonic()) return known.has;
    const writesBefore = this.catalogueWrites;
    const has = await this.store.hasCatalogue(partnerId);
    if (this.productCacheMs > 0 && writesBefore === this.catalogueWrites) {
      this.catalogues.set(partnerId, { has, until: this.monotonic() + this.productCacheMs });
    }
    return has;
  }

  /** Writes products to the catalogue; this process stops using what it remembered of them at once. */
  async upsertProducts(partnerId: string, products: readonly ProductInput[]): Promise<number> {
    try {
      return await this.store.upsertProducts(partnerId, products);
    } finally {
      this.catalogueWrites++;
      this.catalogues.delete(partnerId);
      const known = this.products.get(partnerId);
      if (known) for (const p of products) known.delete(p.productId);
    }
  }

  /**
   * The basket's problems (src/domain/problems.ts) from what this process remembers of the catalogue, without a
   * promise; undefined when a line's product (or whether the partner keeps a catalogue) is not remembered.
   */
  problemsSync(partnerId: string, state: BasketState): BasketProblem[] | undefined {
    if (state.cart.length === 0 && state.saved.length === 0) return NO_PROBLEMS;
    if (this.productCacheMs <= 0) return undefined;
    const now = this.monotonic();
    const memo = this.problemMemo.get(state);
    if (memo !== undefined && memo.until > now && memo.writes === this.catalogueWrites) return memo.problems;
    const known = this.products.get(partnerId);
    if (known === undefined) return undefined;
    let until = Infinity;
    let gone = false;
    for (const lines of [state.cart, state.saved]) {
      for (const l of lines) {
        const hit = known.get(l.productId);
        if (hit === undefined || hit.until <= now) return undefined;
        if (hit.product === null) gone = true;
        if (hit.until < until) until = hit.until;
      }
    }
    let hasCatalogue = true;
    if (gone) {
      const catalogue = this.catalogues.get(partnerId);
      if (catalogue === undefined || catalogue.until <= now) return undefined;
      hasCatalogue = catalogue.has;
      if (catalogue.until < until) until = catalogue.until;
    }
    const found = basketProblems(state, (id) => {
      const product = known.get(id)!.product;
      return product === null && !hasCatalogue ? undefined : product;
    });
    const problems = found.length === 0 ? NO_PROBLEMS : found;
    // a frozen state is one the store shares between reads (SQLite's cache): the next GET of it costs a lookup
    if (Object.isFrozen(state)) this.problemMemo.set(state, { problems, until, writes: this.catalogueWrites });
    return problems;
  }

  /** The basket's problems: from memory when it can, else with one catalogue read of the products (and rarely two). */
  async problems(partnerId: string, state: BasketState): Promise<BasketProblem[]> {
    const remembered = this.problemsSync(partnerId, state);
    if (remembered !== undefined) return remembered;
    const ids = [...new Set([...state.cart, ...state.saved].map((l) => l.productId))];
    const writesBefore = this.catalogueWrites;
    const found = await this.store.getProducts(partnerId, ids);
    const keep = this.productCacheMs > 0 && writesBefore === this.catalogueWrites;
    if (keep) for (const id of ids) this.rememberProduct(partnerId, id, found.get(id) ?? null);
    const hasCatalogue = found.size === ids.length || (await this.hasCatalogue(partnerId));
    const problems = basketProblems(state, (id) => found.get(id) ?? (hasCatalogue ? null : undefined));
    return problems.length === 0 ? NO_PROBLEMS : problems;
  }

  async resolveProduct(partnerId: string, productId: string): Promise<ProductRef> {
    const ref = await this.lookupProduct(partnerId, productId);
    if (ref === null) throw productNotFound(productId);
    return ref;
  }

  async assign(owner: BasketOwner, productId: string, count: number, opts?: ChangeOptions): Promise<VersionedBasket> {
    validateCount(count, this.limits);
    // removal never needs the catalogue: a delisted product must still be removable
    const product = count === -1 ? { productId } : await this.resolveProduct(owner.partnerId, productId);
    return this.change(owner, (s) => assignProduct(s, product, count, this.limits), opts);
  }

  async update(owner: BasketOwner, productId: string, count: number | null, opts?: ChangeOptions): Promise<VersionedBasket> {
    if (count === null || count === -1) {
      return this.change(owner, (s) => updateProduct(s, { productId }, count, this.limits), opts);
    }
    validateCount(count, this.limits);
    const product = await this.lookupProduct(owner.partnerId, productId);
    return this.change(
      owner,
      (s) => {
        // "not in the basket" answers before "not in the catalogue"
        if (product === null) throw isInBasket(s, productId) ? productNotFound(productId) : new BasketError('PRODUCT_NOT_IN_BASKET');
        return updateProduct(s, product, count, this.limits);
      },
      opts,
    );
  }

  removeProduct(owner: BasketOwner, productId: string, opts?: ChangeOptions): Promise<VersionedBasket> {
    return this.change(owner, (s) => removeProduct(s, productId), opts);
  }

  clear(owner: BasketOwner, opts?: ChangeOptions): Promise<VersionedBasket> {
    return this.change(owner, clearBasket, opts);
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

/** The shared answer of a basket without problems (never changed by anyone). */
const NO_PROBLEMS: BasketProblem[] = Object.freeze([]) as unknown as BasketProblem[];

function productNotFound(productId: string): BasketError {
  return new BasketError('PRODUCT_NOT_FOUND', `Product ${productId} not found`);
}
