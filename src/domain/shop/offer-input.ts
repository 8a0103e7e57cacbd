/**
 * The offer's wire form (shop-api.md §4) ↔ the stored Offer: price a decimal in major units ↔ integer minor units,
 * taxRate in percent (19 or 7.7, as the device catalogue's) ↔ basis points. Pure.
 */
import { isCurrency, toMajor, toMinor } from '../money.js';
import type { Offer, OfferProduct, OfferRef, OfferTerm, OfferType } from './records.js';
import { id, idList, list, object, ShopInputError, text, version } from './wire-fields.js';

export { ShopInputError };

export interface OfferWire {
  id: string;
  version: string;
  name: string;
  path: string;
  type: OfferType;
  /** Major units (19.99). */
  price: number;
  currency: string;
  /** Percent included in the price (19 = 19 %). */
  taxRate: number;
  term: OfferTerm | null;
  products: OfferProduct[];
  upgrades: string[];
  downgrades: string[];
  crossSells: string[];
}

export const MAX_PRICE = 100_000_000;
export const MAX_TERM_LENGTH = 120;
const MAX_NAME = 500;
const MAX_PATH = 1000;

const REQUIRED = ['version', 'name', 'path', 'type', 'price', 'currency', 'term'] as const;
const OPTIONAL = ['taxRate', 'products', 'upgrades', 'downgrades', 'crossSells'] as const;

function term(value: unknown): OfferTerm | null {
  if (value === null) return null;
  const t = object(value, 'term', ['length', 'unit']);
  if (typeof t.length !== 'number' || !Number.isInteger(t.length) || t.length < 1 || t.length > MAX_TERM_LENGTH) {
    throw new ShopInputError('term.length', `must be an integer from 1 to ${MAX_TERM_LENGTH}`);
  }
  if (t.unit !== 'month' && t.unit !== 'year') throw new ShopInputError('term.unit', 'must be "month" or "year"');
  return { length: t.length, unit: t.unit };
}

function product(value: unknown, field: string): OfferProduct {
  const p = object(value, field, ['productCode', 'path']);
  return { productCode: id(p.productCode, `${field}.productCode`), path: text(p.path, `${field}.path`, MAX_PATH) };
}

/** Percent with at most two decimals → basis points. */
function taxRateBp(value: unknown): number {
  if (value === undefined) return 0;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > 100) throw new ShopInputError('taxRate', 'must be a percentage from 0 to 100');
  const bp = Math.round(value * 100);
  if (Math.abs(value * 100 - bp) > 1e-6) throw new ShopInputError('taxRate', 'allows at most two decimals');
  return bp;
}

/**
 * An offer from its wire form. `pathId`: the id the URL names (PUT); the body's `id` may then be left out, and must
 * equal it when given. Without `pathId` (an import line) the body's `id` is required.
 */
export function parseOffer(value: unknown, pathId?: string): Offer {
  const o = object(value, '', pathId === undefined ? ['id', ...REQUIRED] : REQUIRED, pathId === undefined ? OPTIONAL : ['id', ...OPTIONAL]);
  const offerId = o.id === undefined ? id(pathId, 'id') : id(o.id, 'id');
  if (pathId !== undefined && offerId !== pathId) throw new ShopInputError('id', `must be the id of the URL (${pathId})`);
  if (o.type !== 'offer' && o.type !== 'add_on') throw new ShopInputError('type', 'must be "offer" or "add_on"');
  const currency = text(o.currency, 'currency', 3);
  if (!isCurrency(currency)) throw new ShopInputError('currency', `${currency} is not an ISO 4217 currency code`);
  if (typeof o.price !== 'number' || !Number.isFinite(o.price) || o.price < 0 || o.price > MAX_PRICE) {
    throw new ShopInputError('price', `must be a number from 0 to ${MAX_PRICE} (major units, e.g. 19.99)`);
  }
  const price = toMinor(o.price, currency);
  if (price === null) throw new ShopInputError('price', `${o.price} has more decimals than ${currency} allows`);
  const offer: Offer = {
    id: offerId,
    version: version(o.version, 'version'),
    name: text(o.name, 'name', MAX_NAME),
    path: text(o.path, 'path', MAX_PATH),
    type: o.type,
    price,
    currency,
    taxRateBp: taxRateBp(o.taxRate),
    term: term(o.term),
    products: o.products === undefined ? [] : list(o.products, 'products', product),
    upgrades: o.upgrades === undefined ? [] : idList(o.upgrades, 'upgrades'),
    downgrades: o.downgrades === undefined ? [] : idList(o.downgrades, 'downgrades'),
    crossSells: o.crossSells === undefined ? [] : idList(o.crossSells, 'crossSells'),
  };
  checkLinks(offer);
  return offer;
}

/** Links that contradict themselves whatever else is loaded. */
function checkLinks(offer: Offer): void {
  for (const field of ['upgrades', 'downgrades', 'crossSells'] as const) {
    const i = offer[field].indexOf(offer.id);
    if (i !== -1) throw new ShopInputError(`${field}.${i}`, 'an offer cannot name itself');
  }
  const downgrades = new Set(offer.downgrades);
  const both = offer.upgrades.findIndex((u) => downgrades.has(u));
  if (both !== -1) throw new ShopInputError(`upgrades.${both}`, `${offer.upgrades[both]} cannot be both an upgrade and a downgrade`);
}

export function offerWire(offer: Offer): OfferWire {
  return {
    id: offer.id,
    version: offer.version,
    name: offer.name,
    path: offer.path,
    type: offer.type,
    price: toMajor(offer.price, offer.currency),
    currency: offer.currency,
    taxRate: offer.taxRateBp / 100,
    term: offer.term,
    products: offer.products,
    upgrades: offer.upgrades,
    downgrades: offer.downgrades,
    crossSells: offer.crossSells,
  };
}

/** Whether two offers hold the same content (a version loaded again with it is a no-op). */
export function sameOffer(a: Offer, b: Offer): boolean {
  return JSON.stringify(offerWire(a)) === JSON.stringify(offerWire(b));
}

export const offerRef = (offer: Offer): OfferRef => ({ id: offer.id, version: offer.version });

/** A link to an offer id that is not loaded: allowed (offers link each other, so one must come first), reported. */
export interface OfferLinkWarning {
  offer: OfferRef;
  field: string;
  message: string;
}

/**
 * The upgrades, downgrades and cross-sells of `offers` that name no offer: neither one of `offers` nor one that
 * `loaded` says exists. They are kept (a later load may add the offer) and simply not proposed until then.
 */
export function danglingLinks(offers: readonly Offer[], loaded: (offerId: string) => boolean): OfferLinkWarning[] {
  const inBatch = new Set(offers.map((o) => o.id));
  const warnings: OfferLinkWarning[] = [];
  for (const offer of offers) {
    for (const field of ['upgrades', 'downgrades', 'crossSells'] as const) {
      offer[field].forEach((target, i) => {
        if (!inBatch.has(target) && !loaded(target)) {
          warnings.push({ offer: offerRef(offer), field: `${field}.${i}`, message: `names offer ${target}, which is not loaded (not proposed until it is)` });
        }
      });
    }
  }
  return warnings;
}
