import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { emptyBasket, type BasketState, type CheckoutLine } from '../../src/domain/basket.js';
import {
  beginCheckout,
  chargedUnits,
  computeTotals,
  containedTax,
  endCheckout,
  mergeBack,
  shippingFor,
  type TotalsLine,
} from '../../src/domain/checkout.js';
import { isBasketError } from '../../src/domain/errors.js';

const limits = { maxCartLines: 20, maxLineCount: 99 };

const lineArb: fc.Arbitrary<TotalsLine> = fc.record({
  productId: fc.string({ minLength: 1, maxLength: 8 }),
  count: fc.integer({ min: 1, max: 99 }),
  stocked: fc.oneof(fc.constant(null), fc.integer({ min: -99, max: 99 }).filter((n) => n !== 0)),
  product: fc.record({
    name: fc.constant('p'),
    price: fc.integer({ min: 0, max: 10_000_000 }),
    currency: fc.constant('EUR'),
    taxRateBp: fc.integer({ min: 0, max: 10_000 }),
  }),
});
const shippingArb = fc.option(fc.record({ flatFee: fc.integer({ min: 0, max: 10_000 }), freeFrom: fc.option(fc.integer({ min: 0, max: 1_000_000 }), { nil: undefined }) }), { nil: undefined });

describe('checkout money', () => {
  it('tax contained in a gross amount, half up', () => {
    assert.equal(containedTax(11_900, 1900), 1900);
    assert.equal(containedTax(1299, 700), 85); // 84.98
    assert.equal(containedTax(25_980, 1900), 4148); // 4148.07
    assert.equal(containedTax(0, 1900), 0);
    assert.equal(containedTax(1000, 0), 0);
    // exactly half: 107 * 700 / 10700 = 7 (exact); 5 * 10000 / 20000 = 2.5 → 3
    assert.equal(containedTax(5, 10_000), 3);
  });

  it('totals equal the sum of lines plus shipping, all integers, tax never above the gross (property)', () => {
    fc.assert(
      fc.property(fc.array(lineArb, { minLength: 1, maxLength: 20 }), shippingArb, (lines, shipping) => {
        const t = computeTotals(lines, shipping);
        const sumLines = t.lines.reduce((s, l) => s + l.lineTotal, 0);
        const sumTax = t.lines.reduce((s, l) => s + l.lineTax, 0);
        assert.equal(t.goodsTotal, sumLines);
        assert.equal(t.fullTax, sumTax);
        assert.equal(t.fullPrice, sumLines + t.shippingCost);
        for (const v of [t.goodsTotal, t.fullTax, t.fullPrice, t.shippingCost]) assert.ok(Number.isSafeInteger(v) && v >= 0);
        for (const [i, l] of t.lines.entries()) {
          const src = lines[i]!;
          assert.equal(l.charged, chargedUnits(src));
          assert.equal(l.lineTotal, src.product.price * l.charged);
          assert.ok(Number.isInteger(l.lineTax) && l.lineTax >= 0 && l.lineTax <= l.lineTotal);
          // |tax − exact| ≤ ½ minor unit, checked without floats: |2·tax·(10000+r) − 2·gross·r| ≤ (10000+r)
          const den = BigInt(10_000 + l.taxRateBp);
          const diff = 2n * BigInt(l.lineTax) * den - 2n * BigInt(l.lineTotal) * BigInt(l.taxRateBp);
          assert.ok((diff < 0n ? -diff : diff) <= den);
          if (src.stocked !== null && src.stocked < 0) assert.equal(l.lineTotal, 0, 'a failed reservation is not charged');
        }
      }),
    );
  });

  it('shipping: flat fee below freeFrom, free from it, none without configuration (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1_000_000 }), shippingArb, (goods, shipping) => {
        const s = shippingFor(goods, shipping);
        if (!shipping) assert.equal(s, 0);
        else if (shipping.freeFrom !== undefined && shipping.freeFrom !== null && goods >= shipping.freeFrom) assert.equal(s, 0);
        else assert.equal(s, shipping.flatFee);
      }),
    );
    assert.equal(shippingFor(4999, { flatFee: 495, freeFrom: 5000 }), 495);
    assert.equal(shippingFor(5000, { flatFee: 495, freeFrom: 5000 }), 0);
  });

  it('refuses mixed currencies', () => {
    const l = (currency: string): TotalsLine => ({ productId: currency, count: 1, stocked: null, product: { name: 'x', price: 100, currency, taxRateBp: 0 } });
    assert.throws(() => computeTotals([l('EUR'), l('USD')], undefined), (e) => isBasketError(e) && e.kind === 'REQUEST_VALIDATION_ERROR');
  });
});

function state(partial: Partial<BasketState>): BasketState {
  return { ...emptyBasket(0, 1000), ...partial };
}
const session = { id: 's', orderNo: 'o', startedAt: 0, expires: 10 };
const co = (productId: string, count: number, stocked: number | null): CheckoutLine => ({ productId, count, stocked });

describe('checkout transitions', () => {
  it('begin: cart → checkout; refuses an active session; null when the cart changed', () => {
    const s = state({ cart: [{ productId: 'a', count: 1 }], saved: [{ productId: 'b', count: 1 }] });
    const next = beginCheckout(s, s.cart, [co('a', 1, 1)], session)!;
    assert.deepEqual([next.cart, next.saved, next.checkout, next.session], [[], s.saved, [co('a', 1, 1)], session]);
    assert.throws(() => beginCheckout(next, next.cart, [], session), (e) => isBasketError(e) && e.kind === 'CHECKOUT_ALREADY_ACTIVE');
    assert.equal(beginCheckout(s, [{ productId: 'a', count: 2 }], [], session), null);
  });

  it('end ordered: reserved and unlimited lines leave, failed lines return; another session id changes nothing', () => {
    const s = state({ checkout: [co('a', 2, 2), co('b', 1, -1), co('c', 1, null)], session });
    assert.equal(endCheckout(s, 'other', 'ordered', limits), s);
    const e = endCheckout(s, 's', 'ordered', limits);
    assert.deepEqual([e.cart, e.checkout, e.session], [[{ productId: 'b', count: 1 }], [], null]);
    const a = endCheckout(s, 's', 'aborted', limits);
    assert.deepEqual(a.cart.map((l) => l.productId), ['a', 'b', 'c']);
  });

  it('merge back: sums capped, cart limit respected, overflow to saved, a product never in both lists (property)', () => {
    const id = fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f', 'g');
    const lineArr = fc.uniqueArray(fc.record({ productId: id, count: fc.integer({ min: 1, max: 99 }) }), { selector: (l) => l.productId, maxLength: 7 });
    fc.assert(
      fc.property(lineArr, lineArr, lineArr, fc.integer({ min: 1, max: 7 }), (cart0, saved0, back, maxCartLines) => {
        const cart = cart0.slice(0, maxCartLines);
        const saved = saved0.filter((l) => !cart.some((c) => c.productId === l.productId));
        const lim = { maxCartLines, maxLineCount: 99 };
        const m = mergeBack(state({ cart, saved }), back, lim);
        assert.ok(m.cart.length <= maxCartLines);
        for (const l of m.cart) assert.ok(!m.saved.some((s) => s.productId === l.productId));
        for (const l of back) {
          const inCart = m.cart.find((c) => c.productId === l.productId);
          const was = cart.find((c) => c.productId === l.productId);
          if (was) assert.equal(inCart?.count, Math.min(99, was.count + l.count));
          else assert.ok(inCart || m.saved.some((s) => s.productId === l.productId && s.count === l.count));
        }
        // nothing of the old cart is lost
        for (const l of cart) assert.ok(m.cart.some((c) => c.productId === l.productId));
      }),
    );
  });

  it('merge back into a full cart: overflow goes to saved', () => {
    const cart = Array.from({ length: 20 }, (_, i) => ({ productId: `p${i}`, count: 1 }));
    const m = mergeBack(state({ cart }), [{ productId: 'x', count: 2 }, { productId: 'p3', count: 5 }], limits);
    assert.equal(m.cart.length, 20);
    assert.equal(m.cart[3]!.count, 6);
    assert.deepEqual(m.saved, [{ productId: 'x', count: 2 }]);
  });
});
