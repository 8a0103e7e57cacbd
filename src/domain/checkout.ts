/**
 * Checkout rules (spec §3.9, §3.10): totals in integer minor units, the cart → checkout transition and the
 * merge-back of an aborted session. Pure functions over plain data: no I/O, no clock.
 *
 * Money decisions (docs/checkout.md):
 * - A line is charged for its reserved units: `stocked` when > 0, `count` when stock is unlimited (null), nothing
 *   when the reservation failed (negative).
 * - lineTotal = unitPrice (gross, minor units) × charged units.
 * - lineTax = the tax contained in lineTotal = round(lineTotal × rate / (10000 + rate)), rounded half up, once
 *   per line (not per unit), in exact integer arithmetic (BigInt), so there is no float drift.
 * - Shipping (partner.shipping): flatFee, or 0 when the goods total ≥ freeFrom, or 0 when the partner configures
 *   none. Shipping is a gross amount; its tax is not computed here (fullTax is the goods' tax).
 * - fullPrice = Σ lineTotal + shippingCost (what the PSP charges); fullTax = Σ lineTax.
 */
import type { BasketLimits, BasketState, CheckoutLine, CheckoutSessionRef, Line } from './basket.js';
import { BasketError } from './errors.js';

export interface Shipping {
  flatFee: number;
  freeFrom?: number | null | undefined;
}

/** What the catalogue says about a product at checkout. */
export interface PricedProduct {
  name: string;
  /** Gross, minor units. */
  price: number;
  currency: string;
  taxRateBp: number;
}

export interface TotalsLine {
  productId: string;
  count: number;
  stocked: number | null;
  product: PricedProduct;
}

export interface LineAmounts {
  productId: string;
  count: number;
  stocked: number | null;
  charged: number;
  name: string;
  unitPrice: number;
  taxRateBp: number;
  lineTotal: number;
  lineTax: number;
}

export interface Totals {
  currency: string;
  lines: LineAmounts[];
  goodsTotal: number;
  fullTax: number;
  shippingCost: number;
  fullPrice: number;
}

/** Units charged for a line: the reserved units, all of them when unlimited, none when the reservation failed. */
export function chargedUnits(line: { count: number; stocked: number | null }): number {
  if (line.stocked === null) return line.count;
  return line.stocked > 0 ? line.stocked : 0;
}

/** Tax contained in a gross amount, rounded half up (half away from zero for the non-negative amounts used). */
export function containedTax(gross: number, rateBp: number): number {
  if (!Number.isSafeInteger(gross) || gross < 0) throw new RangeError('gross must be a non-negative safe integer');
  if (!Number.isSafeInteger(rateBp) || rateBp < 0) throw new RangeError('rate must be a non-negative integer (basis points)');
  const num = BigInt(gross) * BigInt(rateBp);
  const den = BigInt(10_000 + rateBp);
  // round(num / den) half up = floor((2·num + den) / (2·den))
  return Number((2n * num + den) / (2n * den));
}

export function shippingFor(goodsTotal: number, shipping: Shipping | undefined): number {
  if (!shipping) return 0;
  if (shipping.freeFrom !== undefined && shipping.freeFrom !== null && goodsTotal >= shipping.freeFrom) return 0;
  return shipping.flatFee;
}

/** The single currency of the lines; a mixed cart is refused (422 3002). */
export function commonCurrency(lines: readonly { productId: string; product: { currency: string } }[]): string {
  const currencies = [...new Set(lines.map((l) => l.product.currency))];
  if (currencies.length !== 1) {
    throw new BasketError('REQUEST_VALIDATION_ERROR', `The cart mixes currencies (${currencies.join(', ')}); one checkout charges one currency`, [
      { field: 'cart', message: `products in ${currencies.join(', ')}: check out one currency at a time` },
    ]);
  }
  return currencies[0]!;
}

export function computeTotals(lines: readonly TotalsLine[], shipping: Shipping | undefined): Totals {
  if (lines.length === 0) throw new RangeError('computeTotals needs at least one line');
  const currency = commonCurrency(lines);
  const out: LineAmounts[] = lines.map((l) => {
    const charged = chargedUnits(l);
    const lineTotal = l.product.price * charged;
    if (!Number.isSafeInteger(lineTotal)) throw new RangeError(`line total of ${l.productId} is out of range`);
    return {
      productId: l.productId,
      count: l.count,
      stocked: l.stocked,
      charged,
      name: l.product.name,
      unitPrice: l.product.price,
      taxRateBp: l.product.taxRateBp,
      lineTotal,
      lineTax: containedTax(lineTotal, l.product.taxRateBp),
    };
  });
  const goodsTotal = out.reduce((s, l) => s + l.lineTotal, 0);
  const fullTax = out.reduce((s, l) => s + l.lineTax, 0);
  const shippingCost = shippingFor(goodsTotal, shipping);
  const fullPrice = goodsTotal + shippingCost;
  if (!Number.isSafeInteger(fullPrice)) throw new RangeError('order total is out of range');
  return { currency, lines: out, goodsTotal, fullTax, shippingCost, fullPrice };
}

/** True when at least one line holds stock for the buyer (reserved units, or unlimited). */
export function anyReserved(lines: readonly { stocked: number | null }[]): boolean {
  return lines.some((l) => l.stocked === null || l.stocked > 0);
}

function sameLines(a: readonly Line[], b: readonly Line[]): boolean {
  if (a.length !== b.length) return false;
  return a.every((l, i) => l.productId === b[i]!.productId && l.count === b[i]!.count);
}

/**
 * The compare-and-set step of a start: the cart (as it was priced and reserved) moves to `checkout`.
 * Throws 2014 when another session became active meanwhile; returns null when the cart changed since the
 * snapshot (the caller compensates and tries again).
 */
export function beginCheckout(
  state: BasketState,
  snapshot: readonly Line[],
  checkout: readonly CheckoutLine[],
  session: CheckoutSessionRef,
): BasketState | null {
  if (state.session !== null || state.checkout.length > 0) throw new BasketError('CHECKOUT_ALREADY_ACTIVE');
  if (!sameLines(state.cart, snapshot)) return null;
  return { ...state, cart: [], checkout: checkout.map((l) => ({ ...l })), session: { ...session } };
}

/**
 * Puts lines back into the cart after an aborted session (or lines that were not ordered):
 * - a product already in the cart: counts add up, capped at maxLineCount;
 * - otherwise into the cart while it has room (maxCartLines), taking the product off `saved` if it was there;
 * - otherwise onto `saved` (an existing saved line takes the returning count).
 */
export function mergeBack(state: BasketState, lines: readonly Line[], limits: BasketLimits): BasketState {
  let cart = state.cart.slice();
  let saved = state.saved.slice();
  for (const line of lines) {
    const back: Line = { productId: line.productId, count: line.count };
    if (line.variant !== undefined) back.variant = line.variant;
    if (line.mainProductIdentifier !== undefined) back.mainProductIdentifier = line.mainProductIdentifier;
    const i = cart.findIndex((l) => l.productId === line.productId);
    if (i !== -1) {
      cart[i] = { ...cart[i]!, count: Math.min(limits.maxLineCount, cart[i]!.count + line.count) };
      continue;
    }
    if (cart.length < limits.maxCartLines) {
      saved = saved.filter((l) => l.productId !== line.productId);
      cart = [...cart, back];
      continue;
    }
    const j = saved.findIndex((l) => l.productId === line.productId);
    if (j !== -1) {
      saved = saved.slice();
      saved[j] = { ...saved[j]!, count: line.count };
    } else {
      saved = [...saved, back];
    }
  }
  return { ...state, cart, saved };
}

function plainLine(l: CheckoutLine): Line {
  const { stocked: _stocked, ...line } = l;
  return line;
}

export type SessionOutcome = 'ordered' | 'aborted';

/**
 * Ends the session `sessionId` if it is the basket's active one (else returns the state unchanged).
 * ordered: the reserved lines leave the basket, lines whose reservation failed go back to the cart;
 * aborted: every checkout line goes back (mergeBack).
 */
export function endCheckout(state: BasketState, sessionId: string, outcome: SessionOutcome, limits: BasketLimits): BasketState {
  if (state.session === null || state.session.id !== sessionId) return state;
  const back = outcome === 'aborted' ? state.checkout : state.checkout.filter((l) => l.stocked !== null && l.stocked <= 0);
  const merged = mergeBack(state, back.map(plainLine), limits);
  return { ...merged, checkout: [], session: null };
}
