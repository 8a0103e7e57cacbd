import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { normalisedDelta, prorationCharge, type TermPrice } from '../../../src/domain/shop/proration.js';
import type { OfferTerm } from '../../../src/domain/shop/records.js';

const month: OfferTerm = { length: 1, unit: 'month' };
const year: OfferTerm = { length: 1, unit: 'year' };
const DAY = 86_400_000;

/** One offer for another, both on the basis term. */
function upgrade(oldPrice: number, newPrice: number, remaining: number, termLength: number, basis: OfferTerm = month): number {
  return prorationCharge({ before: [{ price: oldPrice, term: basis }], after: [{ price: newPrice, term: basis }], basis, remaining, termLength });
}

const price = fc.integer({ min: 0, max: 100_000_000 });
const termLength = fc.integer({ min: 1, max: 400 * DAY });
const termArb: fc.Arbitrary<OfferTerm> = fc.oneof(
  fc.record({ length: fc.integer({ min: 1, max: 24 }), unit: fc.constant('month' as const) }),
  fc.record({ length: fc.integer({ min: 1, max: 3 }), unit: fc.constant('year' as const) }),
);

describe('proration', () => {
  it('charges the rest of the term pro rata', () => {
    // 10.00 → 20.00 a month, half of a 30-day month left: 5.00
    assert.equal(upgrade(1000, 2000, 15 * DAY, 30 * DAY), 500);
    // a third of 10.00 is 3.333...: 3.33
    assert.equal(upgrade(1000, 2000, 10 * DAY, 30 * DAY), 333);
    // two thirds: 6.666...: 6.67
    assert.equal(upgrade(1000, 2000, 20 * DAY, 30 * DAY), 667);
  });

  it('rounds half up, once, from the exact fraction', () => {
    assert.equal(upgrade(0, 1, 1, 2), 1); // 0.5 → 1
    assert.equal(upgrade(0, 3, 1, 2), 2); // 1.5 → 2
    assert.equal(upgrade(0, 1, 1, 3), 0); // 0.33 → 0
    assert.equal(upgrade(0, 5, 1, 4), 1); // 1.25 → 1
    assert.equal(upgrade(0, 7, 1, 4), 2); // 1.75 → 2
    // 2^53 - 1 minor units over a whole term: exact (no float on the way)
    assert.equal(upgrade(0, Number.MAX_SAFE_INTEGER, 400 * DAY, 400 * DAY), Number.MAX_SAFE_INTEGER);
  });

  it('an upgrade that costs less charges nothing (no refund)', () => {
    assert.equal(upgrade(2000, 1000, 15 * DAY, 30 * DAY), 0);
    assert.equal(upgrade(1000, 1000, 15 * DAY, 30 * DAY), 0);
  });

  it('remaining time is clamped to the term; an empty term charges nothing', () => {
    assert.equal(upgrade(1000, 2000, -5, 30 * DAY), 0);
    assert.equal(upgrade(1000, 2000, 60 * DAY, 30 * DAY), 1000);
    assert.equal(upgrade(1000, 2000, 10, 0), 0);
  });

  it('terms of other lengths are normalised to the current one by their months', () => {
    // annual 120.00 now; monthly 15.00 is 180.00 a year: 60.00 over a whole year, 30.00 over half of it
    const monthly1500: TermPrice = { price: 1500, term: month };
    const annual12000: TermPrice = { price: 12_000, term: year };
    assert.equal(prorationCharge({ before: [annual12000], after: [monthly1500], basis: year, remaining: 365 * DAY, termLength: 365 * DAY }), 6000);
    assert.equal(prorationCharge({ before: [annual12000], after: [monthly1500], basis: year, remaining: 182.5 * DAY, termLength: 365 * DAY }), 3000);
    // monthly 10.00 now; annual 108.00 is 9.00 a month: cheaper, nothing charged
    assert.equal(prorationCharge({ before: [{ price: 1000, term: month }], after: [{ price: 10_800, term: year }], basis: month, remaining: 10 * DAY, termLength: 30 * DAY }), 0);
    // quarterly 30.00 → annual 150.00 (37.50 a quarter): 7.50 over the whole quarter
    const quarter: OfferTerm = { length: 3, unit: 'month' };
    assert.deepEqual(normalisedDelta([{ price: 3000, term: quarter }], [{ price: 15_000, term: year }], quarter), { num: 9000n, den: 12n });
    assert.equal(prorationCharge({ before: [{ price: 3000, term: quarter }], after: [{ price: 15_000, term: year }], basis: quarter, remaining: 90 * DAY, termLength: 90 * DAY }), 750);
  });

  it('add-ons count on both sides', () => {
    const before = [{ price: 1000, term: month }, { price: 300, term: month }];
    const after = [{ price: 2000, term: month }, { price: 300, term: month }, { price: 500, term: month }];
    // delta 15.00, half a term left
    assert.equal(prorationCharge({ before, after, basis: month, remaining: 15 * DAY, termLength: 30 * DAY }), 750);
  });

  // What is proven below, for all prices 0..10^8 minor units, terms of 1..24 months or 1..3 years and term lengths of
  // up to 400 days in ms:
  // (a) an upgrade's charge is in [0, the new offer's price for the rest of the term]; on equal terms that is at most
  //     the new offer's full term price;
  // (b) no time left → 0; the whole term left (same term unit) → exactly max(0, new − old);
  // (c) the charge never decreases as more of the term remains;
  // (d) "sums to the cent": cut [t, end] into k pieces; each piece's charge is the exact share rounded (error ≤ ½)
  //     and the exact shares add up to the whole's, so |Σ pieces − whole| ≤ (k+1)/2, i.e. ≤ ⌊(k+1)/2⌋ minor units
  //     (never more than 1 per piece; 0 for one piece, ≤ 1 for two).
  describe('properties', () => {
    it('(a) never negative, never more than the new offer costs for the rest of the term', () => {
      fc.assert(
        fc.property(price, price, termArb, termArb, termLength, fc.nat(), (oldPrice, newPrice, oldTerm, newTerm, length, r) => {
          const remaining = r % (length + 1);
          const charge = prorationCharge({ before: [{ price: oldPrice, term: oldTerm }], after: [{ price: newPrice, term: newTerm }], basis: oldTerm, remaining, termLength: length });
          const newForRest = prorationCharge({ before: [], after: [{ price: newPrice, term: newTerm }], basis: oldTerm, remaining, termLength: length });
          assert.ok(Number.isSafeInteger(charge) && charge >= 0);
          assert.ok(charge <= newForRest, `${charge} > ${newForRest}`);
          if (oldTerm.unit === newTerm.unit && oldTerm.length === newTerm.length) assert.ok(charge <= newPrice);
        }),
        { numRuns: 1000 },
      );
    });

    it('(b) nothing left → 0; the whole term → the difference', () => {
      fc.assert(
        fc.property(price, price, termArb, termLength, (oldPrice, newPrice, term, length) => {
          assert.equal(upgrade(oldPrice, newPrice, 0, length, term), 0);
          assert.equal(upgrade(oldPrice, newPrice, length, length, term), Math.max(0, newPrice - oldPrice));
        }),
        { numRuns: 500 },
      );
    });

    it('(c) monotone in the time left', () => {
      fc.assert(
        fc.property(price, price, termLength, fc.nat(), fc.nat(), (oldPrice, newPrice, length, a, b) => {
          const [lo, hi] = [a % (length + 1), b % (length + 1)].sort((x, y) => x - y) as [number, number];
          assert.ok(upgrade(oldPrice, newPrice, lo, length) <= upgrade(oldPrice, newPrice, hi, length));
        }),
        { numRuns: 500 },
      );
    });

    it('(d) pieces of the rest of a term sum to the whole within ⌊(k+1)/2⌋ minor units', () => {
      fc.assert(
        fc.property(price, price, termLength, fc.nat(), fc.array(fc.nat(), { minLength: 0, maxLength: 12 }), (oldPrice, newPrice, length, t, cuts) => {
          const rest = t % (length + 1); // upgrading at t: [t, end] is `rest` ms
          const points = [...new Set([0, rest, ...cuts.map((c) => c % (rest + 1))])].sort((x, y) => x - y);
          const pieces = points.slice(1).map((p, i) => p - points[i]!);
          const k = Math.max(1, pieces.length);
          const sum = pieces.reduce((s, len) => s + upgrade(oldPrice, newPrice, len, length), 0);
          const whole = upgrade(oldPrice, newPrice, rest, length);
          assert.ok(Math.abs(sum - whole) <= Math.floor((k + 1) / 2), `k=${k} sum=${sum} whole=${whole}`);
          if (pieces.length === 1) assert.equal(sum, whole);
        }),
        { numRuns: 1000 },
      );
    });
  });
});
