/**
 * The order items of a checkout basket (shop-api.md §3.2, §3.3): building them from an initiate body, the update
 * actions, and their totals. Pure functions over plain data; offers are looked up through a function the caller
 * fills beforehand (an update function of the store must be synchronous), ids come from a function too.
 *
 * Rules (decisions in docs/decisions.md, "Shop checkout"):
 * - Quantity: an integer 1..99. Adding what the basket already holds (same offer version, same parent; or the same
 *   product) adds to that item's quantity, still at most 99.
 * - An add-on belongs to an offer item (`parentId`) whose offer lists the add-on's id in `crossSells`. `parentId`
 *   names the parent by its item id or, when no item has that id, by the offer id of exactly one offer item (an
 *   initiate body has no item ids yet). Removing an offer item removes its add-ons.
 * - One currency per basket; at most MAX_SHOP_ITEMS items (the spec sets no bound).
 */
import { containedTax } from '../checkout.js';
import { badRequest } from './errors.js';
import type { Offer, OfferRef, ShopBasket, ShopItem } from './records.js';

/** Baskets expire this long after their creation (shop-api.md §3.2). */
export const SHOP_BASKET_MS = 14 * 24 * 60 * 60 * 1000;
/** Items a basket may hold (no bound in the spec; a web-shop basket of more is a mistake or an attack). */
export const MAX_SHOP_ITEMS = 100;
export const MIN_QUANTITY = 1;
export const MAX_QUANTITY = 99;

export interface OfferItemRequest {
  type: 'offer' | 'add_on';
  offer: OfferRef;
  quantity: number;
  parentId: string | null;
}

/** A device-catalogue product of a transferred TV basket, priced by the caller. */
export interface ProductItemRequest {
  type: 'product';
  productId: string;
  quantity: number;
  name: string;
  unitPrice: number;
  currency: string;
  taxRateBp: number;
}

export type ItemRequest = OfferItemRequest | ProductItemRequest;

export type UpdateAction =
  | { action: 'add'; item: OfferItemRequest }
  | { action: 'remove'; id: string }
  | { action: 'quantity'; id: string; quantity: number };

/** The offer of a reference, as the caller fetched it; undefined when it does not exist. */
export type OfferLookup = (ref: OfferRef) => Offer | undefined;

/** A map key for an offer version. */
export const offerKey = (ref: OfferRef): string => `${ref.id}\u0000${ref.version}`;

/** Every offer reference an update needs: the basket's own items (parents of new add-ons) and those added. */
export function offerRefsOf(items: readonly ShopItem[], requests: readonly ItemRequest[]): OfferRef[] {
  const refs = new Map<string, OfferRef>();
  for (const i of items) if (i.offer) refs.set(offerKey(i.offer), i.offer);
  for (const r of requests) if (r.type !== 'product') refs.set(offerKey(r.offer), r.offer);
  return [...refs.values()];
}

function checkQuantity(quantity: number): void {
  if (!Number.isInteger(quantity) || quantity < MIN_QUANTITY || quantity > MAX_QUANTITY) {
    throw badRequest(`quantity must be an integer from ${MIN_QUANTITY} to ${MAX_QUANTITY}`);
  }
}

const typeName = (t: Offer['type']): string => (t === 'add_on' ? 'an add-on' : 'an offer');

/** The offer item `parentId` names (by item id, else by the offer id of exactly one offer item). */
function resolveParent(items: readonly ShopItem[], parentId: string): ShopItem {
  const byId = items.find((i) => i.id === parentId);
  if (byId) {
    if (byId.type !== 'offer') throw badRequest(`parentId ${parentId} names an item that is not an offer`);
    return byId;
  }
  const byOffer = items.filter((i) => i.type === 'offer' && i.offer?.id === parentId);
  if (byOffer.length === 1) return byOffer[0]!;
  if (byOffer.length > 1) throw badRequest(`parentId ${parentId} names more than one offer item; use the item id`);
  throw badRequest(`parentId ${parentId} names no offer item of the basket`);
}

/** Adds one request to `items` (a new array), merging into an equal item. */
function addOne(items: ShopItem[], req: ItemRequest, offers: OfferLookup, newId: () => string): ShopItem[] {
  checkQuantity(req.quantity);
  let draft: Omit<ShopItem, 'id' | 'quantity'>;
  if (req.type === 'product') {
    draft = {
      type: 'product',
      offer: null,
      productId: req.productId,
      parentId: null,
      name: req.name,
      unitPrice: req.unitPrice,
      currency: req.currency,
      taxRateBp: req.taxRateBp,
    };
  } else {
    const offer = offers(req.offer);
    if (!offer) throw badRequest(`Unknown offer ${req.offer.id} version ${req.offer.version}`);
    if (offer.type !== req.type) throw badRequest(`Offer ${offer.id} is ${typeName(offer.type)}, not ${typeName(req.type)}`);
    let parentId: string | null = null;
    if (req.type === 'offer') {
      if (req.parentId !== null) throw badRequest(`parentId is only for add-ons (offer ${offer.id})`);
    } else {
      if (req.parentId === null) throw badRequest(`Add-on ${offer.id} needs a parentId naming an offer item of the basket`);
      const parent = resolveParent(items, req.parentId);
      const parentOffer = offers(parent.offer!);
      if (!parentOffer || !parentOffer.crossSells.includes(offer.id)) {
        throw badRequest(`Offer ${parent.offer!.id} does not list add-on ${offer.id} as a cross-sell`);
      }
      parentId = parent.id;
    }
    draft = {
      type: req.type,
      offer: { id: offer.id, version: offer.version },
      productId: null,
      parentId,
      name: offer.name,
      unitPrice: offer.price,
      currency: offer.currency,
      taxRateBp: offer.taxRateBp,
    };
  }
  const same = items.findIndex(
    (i) =>
      i.type === draft.type &&
      i.parentId === draft.parentId &&
      i.productId === draft.productId &&
      (i.offer === null ? draft.offer === null : draft.offer !== null && offerKey(i.offer) === offerKey(draft.offer)),
  );
  if (same === -1) return [...items, { ...draft, id: uniqueId(items, newId), quantity: req.quantity }];
  const quantity = items[same]!.quantity + req.quantity;
  if (quantity > MAX_QUANTITY) throw badRequest(`quantity of ${draft.name} would be ${quantity}; at most ${MAX_QUANTITY}`);
  return items.map((i, n) => (n === same ? { ...i, quantity } : i));
}

function uniqueId(items: readonly ShopItem[], newId: () => string): string {
  for (;;) {
    const id = newId();
    if (!items.some((i) => i.id === id)) return id;
  }
}

/** Adds requests: offers and products first, then add-ons (so an add-on may come before its parent in a body). */
function addAll(items: ShopItem[], requests: readonly ItemRequest[], offers: OfferLookup, newId: () => string): ShopItem[] {
  let next = items;
  for (const r of requests) if (r.type !== 'add_on') next = addOne(next, r, offers, newId);
  for (const r of requests) if (r.type === 'add_on') next = addOne(next, r, offers, newId);
  return next;
}

/** What every basket content must satisfy after a change. */
function checkBasket(items: readonly ShopItem[]): ShopItem[] {
  if (items.length > MAX_SHOP_ITEMS) throw badRequest(`A basket holds at most ${MAX_SHOP_ITEMS} items`);
  const currencies = [...new Set(items.map((i) => i.currency))];
  if (currencies.length > 1) throw badRequest(`All items of a basket must be in one currency (found ${currencies.join(', ')})`);
  shopTotals(items); // refuses totals beyond safe integers
  return [...items];
}

/** The items of a new (or replaced) basket from an initiate body and a transferred TV cart. */
export function buildItems(requests: readonly ItemRequest[], offers: OfferLookup, newId: () => string): ShopItem[] {
  if (requests.length > MAX_SHOP_ITEMS) throw badRequest(`A basket holds at most ${MAX_SHOP_ITEMS} items`);
  return checkBasket(addAll([], requests, offers, newId));
}

/** The items after `actions`, applied in order, all or nothing. */
export function applyActions(items: readonly ShopItem[], actions: readonly UpdateAction[], offers: OfferLookup, newId: () => string): ShopItem[] {
  let next = [...items];
  let adds: ItemRequest[] = [];
  const flush = () => {
    next = addAll(next, adds, offers, newId);
    adds = [];
  };
  for (const a of actions) {
    if (a.action === 'add') {
      adds.push(a.item);
      continue;
    }
    flush();
    const target = next.find((i) => i.id === a.id);
    if (!target) throw badRequest(`No order item ${a.id} in the basket`);
    if (a.action === 'remove') {
      next = next.filter((i) => i.id !== a.id && i.parentId !== a.id);
    } else {
      checkQuantity(a.quantity);
      next = next.map((i) => (i.id === a.id ? { ...i, quantity: a.quantity } : i));
    }
  }
  flush();
  return checkBasket(next);
}

export interface ShopTotals {
  /** Minor units, tax included. */
  amount: number;
  /** Tax contained in `amount`, per item, rounded half up. */
  tax: number;
  /** null for an empty basket. */
  currency: string | null;
}

export const lineAmount = (i: Pick<ShopItem, 'unitPrice' | 'quantity'>): number => i.unitPrice * i.quantity;

export function shopTotals(items: readonly ShopItem[]): ShopTotals {
  let amount = 0;
  let tax = 0;
  for (const i of items) {
    const line = lineAmount(i);
    amount += line;
    if (!Number.isSafeInteger(line) || !Number.isSafeInteger(amount)) throw badRequest('The basket total is too large');
    tax += containedTax(line, i.taxRateBp);
  }
  return { amount, tax, currency: items[0]?.currency ?? null };
}

/** A basket that can still be changed (update, replace by external id); 400 otherwise. Expiry is the caller's (404). */
export function requireChangeable(basket: ShopBasket): void {
  if (basket.status === 'completed') throw badRequest('The basket is completed and can no longer be changed');
  if (basket.status === 'submitting') throw badRequest('The basket is being ordered and cannot be changed');
}

/** Whether the basket is past its lifetime at `now` (an expired basket is treated as absent). */
export const isExpired = (basket: Pick<ShopBasket, 'expires'>, now: number): boolean => basket.expires <= now;
