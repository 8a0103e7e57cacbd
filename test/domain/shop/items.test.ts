import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  applyActions,
  buildItems,
  MAX_SHOP_ITEMS,
  offerKey,
  offerRefsOf,
  requireChangeable,
  shopTotals,
  type ItemRequest,
  type OfferItemRequest,
  type OfferLookup,
} from '../../../src/domain/shop/items.js';
import { isShopRuleError } from '../../../src/domain/shop/errors.js';
import type { Offer, ShopBasket, ShopItem } from '../../../src/domain/shop/records.js';

function offer(id: string, over: Partial<Offer> = {}): Offer {
  return {
    id,
    version: '1',
    name: `Offer ${id}`,
    path: `/offers/${id}`,
    type: 'offer',
    price: 1000,
    currency: 'EUR',
    taxRateBp: 1900,
    term: { length: 1, unit: 'month' },
    products: [],
    upgrades: [],
    downgrades: [],
    crossSells: [],
    ...over,
  };
}

const OFFERS = [
  offer('monthly', { crossSells: ['extra', 'sport'] }),
  offer('monthly', { version: '2', price: 1200, crossSells: ['extra'] }),
  offer('annual', { price: 10_000, term: { length: 1, unit: 'year' } }),
  offer('extra', { type: 'add_on', price: 299 }),
  offer('sport', { type: 'add_on', price: 499 }),
  offer('dollars', { currency: 'USD' }),
  offer('huge', { price: Number.MAX_SAFE_INTEGER }),
];
const lookup: OfferLookup = (ref) => OFFERS.find((o) => offerKey(o) === offerKey(ref));

function ids(): () => string {
  let n = 0;
  return () => `item-${++n}`;
}

const req = (id: string, over: Partial<OfferItemRequest> = {}): OfferItemRequest => ({ type: 'offer', offer: { id, version: '1' }, quantity: 1, parentId: null, ...over });
const addOn = (id: string, parentId: string | null, quantity = 1): OfferItemRequest => ({ type: 'add_on', offer: { id, version: '1' }, quantity, parentId });

function refused(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (err: unknown) => isShopRuleError(err) && err.status === 400 && pattern.test(err.message));
}

describe('shop items: initiate', () => {
  it('resolves offers with their price, name and currency, in minor units', () => {
    const items = buildItems([req('monthly', { quantity: 2 }), req('annual')], lookup, ids());
    assert.deepEqual(
      items.map((i) => [i.id, i.type, i.offer, i.quantity, i.unitPrice, i.currency, i.name]),
      [
        ['item-1', 'offer', { id: 'monthly', version: '1' }, 2, 1000, 'EUR', 'Offer monthly'],
        ['item-2', 'offer', { id: 'annual', version: '1' }, 1, 10_000, 'EUR', 'Offer annual'],
      ],
    );
    assert.deepEqual(shopTotals(items), { amount: 12_000, tax: 319 + 1597, currency: 'EUR' });
  });

  it('an add-on may come before its parent; parentId names the parent offer id and is stored as its item id', () => {
    const items = buildItems([addOn('extra', 'monthly'), req('monthly')], lookup, ids());
    assert.equal(items.length, 2);
    const parent = items.find((i) => i.type === 'offer')!;
    assert.equal(items.find((i) => i.type === 'add_on')!.parentId, parent.id);
  });

  it('refuses unknown offers and versions, wrong types, bad quantities', () => {
    refused(() => buildItems([req('nope')], lookup, ids()), /Unknown offer nope version 1/);
    refused(() => buildItems([req('monthly', { offer: { id: 'monthly', version: '9' } })], lookup, ids()), /version 9/);
    refused(() => buildItems([req('extra')], lookup, ids()), /is an add-on, not an offer/);
    refused(() => buildItems([req('monthly'), addOn('annual', 'monthly')], lookup, ids()), /is an offer, not an add-on/);
    for (const quantity of [0, 100, 1.5, -1, Number.NaN]) refused(() => buildItems([req('monthly', { quantity })], lookup, ids()), /quantity must be an integer from 1 to 99/);
  });

  it('add-on rules: a parent offer item that lists it as a cross-sell', () => {
    refused(() => buildItems([addOn('extra', null)], lookup, ids()), /needs a parentId/);
    refused(() => buildItems([addOn('extra', 'monthly')], lookup, ids()), /names no offer item/);
    refused(() => buildItems([req('annual'), addOn('extra', 'annual')], lookup, ids()), /does not list add-on extra as a cross-sell/);
    // version 2 of monthly no longer sells sport
    refused(() => buildItems([req('monthly', { offer: { id: 'monthly', version: '2' } }), addOn('sport', 'monthly')], lookup, ids()), /cross-sell/);
    refused(() => buildItems([req('monthly', { parentId: 'annual' }), req('annual')], lookup, ids()), /parentId is only for add-ons/);
    // two offer items of the same id: the offer id is ambiguous
    refused(
      () => buildItems([req('monthly'), req('monthly', { offer: { id: 'monthly', version: '2' } }), addOn('extra', 'monthly')], lookup, ids()),
      /more than one offer item/,
    );
  });

  it('the same offer twice is one item with the quantities added, at most 99', () => {
    const items = buildItems([req('monthly', { quantity: 40 }), req('monthly', { quantity: 59 })], lookup, ids());
    assert.deepEqual(items.map((i) => i.quantity), [99]);
    refused(() => buildItems([req('monthly', { quantity: 50 }), req('monthly', { quantity: 50 })], lookup, ids()), /would be 100; at most 99/);
  });

  it('one currency per basket, a bounded number of items, totals within safe integers', () => {
    refused(() => buildItems([req('monthly'), req('dollars')], lookup, ids()), /one currency \(found EUR, USD\)/);
    const many: ItemRequest[] = Array.from({ length: MAX_SHOP_ITEMS + 1 }, (_, n) => ({
      type: 'product',
      productId: `p${n}`,
      quantity: 1,
      name: 'p',
      unitPrice: 1,
      currency: 'EUR',
      taxRateBp: 0,
    }));
    refused(() => buildItems(many, lookup, ids()), /at most 100 items/);
    assert.equal(buildItems(many.slice(0, MAX_SHOP_ITEMS), lookup, ids()).length, MAX_SHOP_ITEMS);
    refused(() => buildItems([req('huge', { quantity: 2 })], lookup, ids()), /too large/);
  });

  it('product items (from a TV basket) keep their catalogue price', () => {
    const items = buildItems([{ type: 'product', productId: 'prod-1', quantity: 3, name: 'Dress', unitPrice: 12_990, currency: 'EUR', taxRateBp: 1900 }], lookup, ids());
    assert.deepEqual(items[0], {
      id: 'item-1',
      type: 'product',
      offer: null,
      productId: 'prod-1',
      parentId: null,
      quantity: 3,
      name: 'Dress',
      unitPrice: 12_990,
      currency: 'EUR',
      taxRateBp: 1900,
    });
    assert.equal(shopTotals(items).amount, 38_970);
  });

  it('an empty basket has no currency', () => {
    assert.deepEqual(shopTotals([]), { amount: 0, tax: 0, currency: null });
  });
});

describe('shop items: update actions', () => {
  const base = (): ShopItem[] => buildItems([req('monthly'), addOn('extra', 'monthly'), req('annual')], lookup, ids());

  const idOf = (items: ShopItem[], offerId: string) => items.find((i) => i.offer?.id === offerId)!.id;

  it('add by item id of the parent, quantity, remove', () => {
    const items = base();
    const monthly = items.find((i) => i.offer!.id === 'monthly')!;
    let next = applyActions(items, [{ action: 'add', item: addOn('sport', monthly.id, 2) }], lookup, () => 'item-new');
    assert.equal(next.length, 4);
    assert.deepEqual(next.at(-1), { ...next.at(-1)!, id: 'item-new', parentId: monthly.id, quantity: 2 });
    next = applyActions(next, [{ action: 'quantity', id: 'item-new', quantity: 5 }], lookup, ids());
    assert.equal(next.at(-1)!.quantity, 5);
    next = applyActions(next, [{ action: 'remove', id: idOf(items, 'annual') }], lookup, ids());
    assert.deepEqual(next.map((i) => i.offer!.id), ['monthly', 'extra', 'sport']);
  });

  it('removing an offer item removes its add-ons', () => {
    const items = base();
    const next = applyActions(items, [{ action: 'remove', id: idOf(items, 'monthly') }], lookup, ids());
    assert.deepEqual(next.map((i) => i.offer!.id), ['annual']);
  });

  it('unknown item ids, bad quantities: 400 and nothing changes (all or nothing)', () => {
    const items = base();
    const copy = structuredClone(items);
    refused(() => applyActions(items, [{ action: 'remove', id: 'item-9' }], lookup, ids()), /No order item item-9/);
    refused(() => applyActions(items, [{ action: 'quantity', id: items[0]!.id, quantity: 0 }], lookup, ids()), /quantity/);
    refused(() => applyActions(items, [{ action: 'remove', id: items[1]!.id }, { action: 'remove', id: items[1]!.id }], lookup, ids()), /No order item/);
    assert.deepEqual(items, copy);
  });

  it('an add-on whose parent was removed in the same request is refused', () => {
    const items = base();
    const monthly = idOf(items, 'monthly');
    refused(() => applyActions(items, [{ action: 'remove', id: monthly }, { action: 'add', item: addOn('sport', monthly) }], lookup, ids()), /names no offer item/);
  });

  it('offerRefsOf names the basket and request offers once each', () => {
    const refs = offerRefsOf(base(), [req('monthly'), req('annual', { offer: { id: 'annual', version: '7' } })]);
    assert.deepEqual(refs.map(offerKey).sort(), [offerKey({ id: 'annual', version: '1' }), offerKey({ id: 'annual', version: '7' }), offerKey({ id: 'extra', version: '1' }), offerKey({ id: 'monthly', version: '1' })].sort());
  });

  it('completed and submitting baskets cannot change', () => {
    const b = { status: 'completed' } as ShopBasket;
    refused(() => requireChangeable(b), /completed/);
    refused(() => requireChangeable({ ...b, status: 'submitting' }), /being ordered/);
    requireChangeable({ ...b, status: 'open' });
  });

  it('property: any action sequence leaves a valid basket or refuses with 400', () => {
    const action = fc.oneof(
      fc.record({ action: fc.constant('add' as const), item: fc.record({ type: fc.constantFrom('offer' as const, 'add_on' as const), offer: fc.record({ id: fc.constantFrom('monthly', 'annual', 'extra', 'sport', 'dollars', 'x'), version: fc.constantFrom('1', '2') }), quantity: fc.integer({ min: -1, max: 120 }), parentId: fc.option(fc.constantFrom('monthly', 'annual', 'item-1', 'item-2', 'item-3'), { nil: null }) }) }),
      fc.record({ action: fc.constant('remove' as const), id: fc.constantFrom('item-1', 'item-2', 'item-3', 'item-4') }),
      fc.record({ action: fc.constant('quantity' as const), id: fc.constantFrom('item-1', 'item-2', 'item-3'), quantity: fc.integer({ min: -1, max: 120 }) }),
    );
    fc.assert(
      fc.property(fc.array(fc.array(action, { maxLength: 5 }), { maxLength: 6 }), (requests) => {
        let items: ShopItem[] = [];
        const newId = ids();
        for (const actions of requests) {
          try {
            items = applyActions(items, actions, lookup, newId);
          } catch (err) {
            assert.ok(isShopRuleError(err) && err.status === 400, String(err));
          }
          // invariants of every stored basket
          assert.ok(items.length <= MAX_SHOP_ITEMS);
          assert.equal(new Set(items.map((i) => i.id)).size, items.length);
          assert.ok(new Set(items.map((i) => i.currency)).size <= 1);
          for (const i of items) {
            assert.ok(Number.isInteger(i.quantity) && i.quantity >= 1 && i.quantity <= 99);
            if (i.type === 'add_on') {
              const parent = items.find((p) => p.id === i.parentId);
              assert.ok(parent && parent.type === 'offer', 'an add-on keeps its parent');
              assert.ok(lookup(parent.offer!)!.crossSells.includes(i.offer!.id));
            }
          }
        }
      }),
    );
  });
});
