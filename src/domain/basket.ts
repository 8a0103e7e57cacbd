/**
 * Basket list rules (spec §3.1–3.5). Pure functions over plain data: no I/O, no clock, no framework.
 * Every rule returns a new state, or the very same object for its no-ops, such as removing what is not there (the
 * caller then skips the write). Assigning a line the count it has is a new state: the user's action still moves
 * lastChanged and the expiry (docs/decisions.md).
 */
import { BasketError } from './errors.js';

export interface Line {
  productId: string;
  count: number;
  variant?: string;
  mainProductIdentifier?: string;
  /**
   * The catalogue's gross price (minor units) and currency when the line was last assigned: what a later price
   * change is measured against (basket problems). Absent on lines written before it was kept, or for products
   * without a price: then no price problem is reported. Never on the wire.
   */
  addedPrice?: number;
  addedCurrency?: string;
}

/**
 * A JSON.stringify replacer that leaves out what a line keeps for itself (`addedPrice`, `addedCurrency`), for the
 * places that write a basket without the route's response schema (the change stream, webhooks).
 */
export function dropInternalLineFields(key: string, value: unknown): unknown {
  return key === 'addedPrice' || key === 'addedCurrency' ? undefined : value;
}

export interface CheckoutLine extends Line {
  /** Units reserved; negative when the reservation failed; null when the product has unlimited stock. */
  stocked: number | null;
}

/** The active checkout session of a basket (issue 4 fills it in). */
export interface CheckoutSessionRef {
  id: string;
  orderNo: string;
  startedAt: number;
  expires: number;
}

export interface BasketState {
  cart: Line[];
  saved: Line[];
  checkout: CheckoutLine[];
  /** Epoch milliseconds. */
  lastChanged: number;
  /** Epoch milliseconds; sliding: lastChanged + basket lifetime. */
  expires: number;
  session: CheckoutSessionRef | null;
  /** A guest basket merged into an account (src/domain/merge.ts): no write may change it any more. */
  mergedInto?: GuestMergeMarker;
  /** The guest merges this basket took in, newest last (a retried merge is applied once). */
  mergedFrom?: AppliedMerge[];
}

/** How the counts of a product in both baskets combine. */
export type MergeStrategy = 'sum' | 'max' | 'replace';

/** Written on a guest basket by the first step of a merge (docs/decisions.md, "Guest → account merge"). */
export interface GuestMergeMarker {
  /** The account the guest basket goes to. */
  userId: string;
  /** The merge's idempotency id (mergeId): the guest user id and a nonce. */
  id: string;
  /** `merging`: captured, maybe not yet applied to the account; `done`: applied. */
  phase: 'merging' | 'done';
  strategy: MergeStrategy;
  /** The guest's lines as captured; emptied once the merge is done. */
  cart: Line[];
  saved: Line[];
}

/** What a merge did to an account's basket, kept so that a retry answers the same. */
export interface AppliedMerge {
  id: string;
  moved: number;
  toSaved: string[];
}

export interface BasketLimits {
  /** Distinct products the cart may hold (spec: 20). */
  maxCartLines: number;
  /** Highest count of one line (default 99). */
  maxLineCount: number;
}

/** What the catalogue says about a product when it is put into a list. */
export interface ProductRef {
  productId: string;
  variant?: string;
  mainProductIdentifier?: string;
  /** Gross price in minor units and its currency, when the catalogue has a price. */
  price?: number;
  currency?: string;
}

/** The count that removes a line from both lists (spec §3.3 decision). */
export const REMOVE = -1;

export function emptyBasket(now: number, lifetimeMs: number): BasketState {
  return { cart: [], saved: [], checkout: [], lastChanged: now, expires: now + lifetimeMs, session: null };
}

/** A stored basket past its expiry reads as absent, unless a checkout still holds it. */
export function liveBasket(state: BasketState | null | undefined, now: number): BasketState | null {
  if (!state) return null;
  if (state.expires <= now && state.session === null) return null;
  return state;
}

/** Marks a changed basket: lastChanged now, expiry slides. */
export function touch(state: BasketState, now: number, lifetimeMs: number): BasketState {
  return { ...state, lastChanged: now, expires: now + lifetimeMs };
}

export function validateCount(count: number, limits: BasketLimits): void {
  if (!Number.isInteger(count) || count < REMOVE || count > limits.maxLineCount) {
    throw new BasketError('REQUEST_VALIDATION_ERROR', `count must be an integer from -1 to ${limits.maxLineCount}`, [
      { field: 'count', message: `must be an integer from -1 to ${limits.maxLineCount}` },
    ]);
  }
}

function findLine(lines: readonly Line[], productId: string): Line | undefined {
  return lines.find((l) => l.productId === productId);
}

function without(lines: readonly Line[], productId: string): Line[] {
  return lines.filter((l) => l.productId !== productId);
}

/** Replaces the line in place (keeping its position) or appends it. */
function upsert(lines: readonly Line[], line: Line): Line[] {
  const i = lines.findIndex((l) => l.productId === line.productId);
  if (i === -1) return [...lines, line];
  const next = lines.slice();
  next[i] = line;
  return next;
}

function makeLine(product: ProductRef, count: number): Line {
  const line: Line = { productId: product.productId, count };
  if (product.variant !== undefined) line.variant = product.variant;
  if (product.mainProductIdentifier !== undefined) line.mainProductIdentifier = product.mainProductIdentifier;
  if (product.price !== undefined && product.currency !== undefined) {
    line.addedPrice = product.price;
    line.addedCurrency = product.currency;
  }
  return line;
}

export function isInBasket(state: BasketState, productId: string): boolean {
  return findLine(state.cart, productId) !== undefined || findLine(state.saved, productId) !== undefined;
}

/**
 * assignProductToBasket: overwrites the product's line.
 * count > 0 → cart (removed from saved); 0 → saved (removed from cart); -1 → removed from both.
 * A saved line keeps the count it had, or 1: `count` always means "how many to order" (docs/decisions.md).
 * Lines in `checkout` are never touched.
 */
export function assignProduct(state: BasketState, product: ProductRef, count: number, limits: BasketLimits): BasketState {
  validateCount(count, limits);
  const id = product.productId;
  const inCart = findLine(state.cart, id);
  const inSaved = findLine(state.saved, id);

  if (count === REMOVE) {
    if (!inCart && !inSaved) return state;
    return { ...state, cart: without(state.cart, id), saved: without(state.saved, id) };
  }

  if (count === 0) {
    const kept = inCart?.count ?? inSaved?.count ?? 1;
    return { ...state, cart: without(state.cart, id), saved: upsert(state.saved, makeLine(product, kept)) };
  }

  if (!inCart && state.cart.length >= limits.maxCartLines) {
    throw new BasketError('CART_LIMIT_REACHED', `The cart already holds ${limits.maxCartLines} products`);
  }
  return { ...state, cart: upsert(state.cart, makeLine(product, count)), saved: without(state.saved, id) };
}

/**
 * updateProductInBasket: as assignProduct, but the product must already be in cart or saved,
 * and a null count leaves it as it is.
 */
export function updateProduct(
  state: BasketState,
  product: ProductRef,
  count: number | null,
  limits: BasketLimits,
): BasketState {
  if (!isInBasket(state, product.productId)) throw new BasketError('PRODUCT_NOT_IN_BASKET');
  if (count === null) return state;
  return assignProduct(state, product, count, limits);
}

/** deleteProductFromBasket: removes the product from cart and saved. */
export function removeProduct(state: BasketState, productId: string): BasketState {
  if (!isInBasket(state, productId)) throw new BasketError('PRODUCT_NOT_IN_BASKET');
  return { ...state, cart: without(state.cart, productId), saved: without(state.saved, productId) };
}

/** deleteBasket: empties cart and saved; refused while a checkout holds the basket. */
export function clearBasket(state: BasketState): BasketState {
  if (state.session !== null || state.checkout.length > 0) throw new BasketError('BASKET_LOCKED');
  if (state.cart.length === 0 && state.saved.length === 0) return state;
  return { ...state, cart: [], saved: [] };
}
