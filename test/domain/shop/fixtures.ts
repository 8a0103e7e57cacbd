/** Offers and a subscription for the pure subscription-change tests. */
import type { Offer, OfferRef, Subscription } from '../../../src/domain/shop/records.js';
import type { OfferLookup } from '../../../src/domain/shop/subscription-change.js';

export const DAY = 86_400_000;

export function offer(id: string, over: Partial<Offer> = {}): Offer {
  return {
    id,
    version: 'v1',
    name: id,
    path: `/offers/${id}`,
    type: 'offer',
    price: 1000,
    currency: 'EUR',
    taxRateBp: 2000,
    term: { length: 1, unit: 'month' },
    products: [],
    upgrades: [],
    downgrades: [],
    crossSells: [],
    ...over,
  };
}

export function addOn(id: string, over: Partial<Offer> = {}): Offer {
  return offer(id, { type: 'add_on', price: 300, ...over });
}

/** basic ⇄ premium (monthly), premium ⇄ annual; add-ons: sport (basic, premium), hd (premium only). */
export function catalogue(): Offer[] {
  return [
    offer('basic', { price: 1000, upgrades: ['premium', 'annual', 'missing'], downgrades: ['lite'], crossSells: ['sport', 'oneoff-addon'] }),
    offer('premium', { price: 2000, downgrades: ['basic'], crossSells: ['sport', 'hd'] }),
    offer('premium', { version: 'v2', price: 2200, downgrades: ['basic'], crossSells: ['sport', 'hd'] }),
    offer('annual', { price: 21_600, term: { length: 1, unit: 'year' }, downgrades: ['basic'], crossSells: ['hd'] }),
    offer('lite', { price: 500, upgrades: ['basic'] }),
    offer('dollar', { currency: 'USD' }),
    offer('movie', { term: null }),
    addOn('sport', { price: 300 }),
    addOn('hd', { price: 500 }),
    addOn('oneoff-addon', { term: null }),
  ];
}

export function lookupOf(offers: readonly Offer[]): OfferLookup {
  return (ref: OfferRef) => offers.find((o) => o.id === ref.id && o.version === ref.version);
}

export function newestOf(offers: readonly Offer[]): Offer[] {
  const byId = new Map<string, Offer>();
  for (const o of offers) byId.set(o.id, o); // later versions come later in catalogue()
  return [...byId.values()];
}

export const T0 = Date.parse('2025-03-01T00:00:00Z');
export const T1 = Date.parse('2025-03-31T00:00:00Z'); // a 30-day term

export function subscription(over: Partial<Subscription> = {}): Subscription {
  return {
    id: 'sub-1',
    partnerId: 'demo',
    name: 'Anna',
    customer: { email: 'anna@example.com', firstName: 'Anna', lastName: 'Example' },
    offer: { id: 'basic', version: 'v1' },
    addOns: [{ id: 'sport', version: 'v1' }],
    termStart: T0,
    termEnd: T1,
    pendingChange: null,
    ...over,
  };
}
