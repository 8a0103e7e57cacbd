import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { danglingLinks, offerWire, parseOffer, sameOffer, ShopInputError } from '../../../src/domain/shop/offer-input.js';

const basic = {
  id: 'basic-monthly',
  version: 'v1',
  name: 'Basic monthly',
  path: '/offers/basic-monthly',
  type: 'offer',
  price: 9.99,
  currency: 'EUR',
  taxRate: 19,
  term: { length: 1, unit: 'month' },
  products: [{ productCode: 'basic', path: '/products/basic' }],
  upgrades: ['premium-monthly'],
  downgrades: [],
  crossSells: ['sports'],
};

/** The field a parse refuses, or null when it takes the input. */
function refused(input: unknown, pathId?: string): string | null {
  try {
    parseOffer(input, pathId);
    return null;
  } catch (err) {
    if (!(err instanceof ShopInputError)) throw err;
    return err.field;
  }
}

describe('offer input', () => {
  it('takes the wire form into minor units and basis points, and gives it back as it was', () => {
    const offer = parseOffer(basic);
    assert.equal(offer.price, 999);
    assert.equal(offer.taxRateBp, 1900);
    assert.deepEqual(offer.term, { length: 1, unit: 'month' });
    assert.deepEqual(offerWire(offer), basic);
  });

  it('fills the optional fields: taxRate 0, empty lists; a one-off offer has term null', () => {
    const offer = parseOffer({ id: 'o', version: '1', name: 'Mug', path: '/mug', type: 'offer', price: 12.99, currency: 'EUR', term: null });
    assert.equal(offer.taxRateBp, 0);
    assert.equal(offer.term, null);
    assert.deepEqual([offer.products, offer.upgrades, offer.downgrades, offer.crossSells], [[], [], [], []]);
  });

  it('keeps the currency digits exact (JPY has none, 7.7 % tax is 770 bp)', () => {
    const yen = parseOffer({ ...basic, price: 1200, currency: 'JPY', taxRate: 7.7 });
    assert.equal(yen.price, 1200);
    assert.equal(yen.taxRateBp, 770);
    assert.equal(refused({ ...basic, price: 12.5, currency: 'JPY' }), 'price');
  });

  it('names the field it refuses', () => {
    const { id: _id, ...noId } = basic;
    const cases: [unknown, string][] = [
      ['not an object', ''],
      [noId, 'id'],
      [{ ...basic, surprise: 1 }, 'surprise'],
      [{ ...basic, id: '' }, 'id'],
      [{ ...basic, id: 'x'.repeat(129) }, 'id'],
      [{ ...basic, id: 'a\u0007b' }, 'id'],
      [{ ...basic, version: '' }, 'version'],
      [{ ...basic, version: 'v 1' }, 'version'],
      [{ ...basic, version: 'v'.repeat(65) }, 'version'],
      [{ ...basic, type: 'bundle' }, 'type'],
      [{ ...basic, price: 9.999 }, 'price'],
      [{ ...basic, price: -1 }, 'price'],
      [{ ...basic, price: '9.99' }, 'price'],
      [{ ...basic, currency: 'XYZ' }, 'currency'],
      [{ ...basic, currency: 'eur' }, 'currency'],
      [{ ...basic, taxRate: 19.555 }, 'taxRate'],
      [{ ...basic, taxRate: 101 }, 'taxRate'],
      [{ ...basic, term: { length: 0, unit: 'month' } }, 'term.length'],
      [{ ...basic, term: { length: 121, unit: 'month' } }, 'term.length'],
      [{ ...basic, term: { length: 1.5, unit: 'month' } }, 'term.length'],
      [{ ...basic, term: { length: 1, unit: 'week' } }, 'term.unit'],
      [{ ...basic, term: undefined }, 'term'],
      [{ ...basic, products: [{ productCode: 'p' }] }, 'products.0.path'],
      [{ ...basic, products: [{ productCode: 'p', path: '/p' }, { productCode: '', path: '/q' }] }, 'products.1.productCode'],
      [{ ...basic, upgrades: ['a', 'a'] }, 'upgrades.1'],
      [{ ...basic, upgrades: 'premium' }, 'upgrades'],
      [{ ...basic, crossSells: Array.from({ length: 101 }, (_, i) => `x${i}`) }, 'crossSells'],
      [{ ...basic, downgrades: ['basic-monthly'] }, 'downgrades.0'],
      [{ ...basic, downgrades: ['premium-monthly'] }, 'upgrades.0'],
    ];
    for (const [input, field] of cases) assert.equal(refused(input), field, JSON.stringify(input));
  });

  it('takes the id from the URL; a body id must be the same', () => {
    const { id: _id, ...noId } = basic;
    assert.equal(parseOffer(noId, 'basic-monthly').id, 'basic-monthly');
    assert.equal(parseOffer(basic, 'basic-monthly').id, 'basic-monthly');
    assert.equal(refused(basic, 'other'), 'id');
  });

  it('compares content, not object identity', () => {
    assert.ok(sameOffer(parseOffer(basic), parseOffer({ ...basic })));
    assert.ok(!sameOffer(parseOffer(basic), parseOffer({ ...basic, price: 10.99 })));
  });

  it('reports links to offers neither in the load nor loaded', () => {
    const offers = [parseOffer(basic), parseOffer({ ...basic, id: 'premium-monthly', upgrades: [], downgrades: ['basic-monthly'], crossSells: ['sports', 'screens'] })];
    const warnings = danglingLinks(offers, (id) => id === 'sports');
    assert.deepEqual(
      warnings.map((w) => [w.offer.id, w.field]),
      [['premium-monthly', 'crossSells.1']],
    );
    assert.match(warnings[0]!.message, /screens/);
  });
});
