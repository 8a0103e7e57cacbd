import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  assignProduct,
  clearBasket,
  emptyBasket,
  liveBasket,
  removeProduct,
  touch,
  updateProduct,
  type BasketLimits,
  type BasketState,
} from '../../src/domain/basket.js';
import { BasketError } from '../../src/domain/errors.js';

const limits: BasketLimits = { maxCartLines: 20, maxLineCount: 99 };
const T0 = Date.UTC(2026, 0, 1);
const DAY = 86_400_000;
const p = (id: string) => ({ productId: id });

function kindOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof BasketError, `expected a BasketError, got ${String(err)}`);
    return err.kind;
  }
  assert.fail('expected an error');
}

function fill(n: number): BasketState {
  let s = emptyBasket(T0, DAY);
  for (let i = 0; i < n; i++) s = assignProduct(s, p(`p${i}`), 1, limits);
  return s;
}

describe('assignProduct', () => {
  it('puts a positive count into the cart', () => {
    const s = assignProduct(emptyBasket(T0, DAY), p('a'), 3, limits);
    assert.deepEqual(s.cart, [{ productId: 'a', count: 3 }]);
    assert.deepEqual(s.saved, []);
  });

  it('overwrites the count of a line already in the cart, keeping its position', () => {
    let s = assignProduct(emptyBasket(T0, DAY), p('a'), 1, limits);
    s = assignProduct(s, p('b'), 1, limits);
    s = assignProduct(s, p('a'), 5, limits);
    assert.deepEqual(s.cart, [{ productId: 'a', count: 5 }, { productId: 'b', count: 1 }]);
  });

  it('count 0 moves the line to saved and keeps its count', () => {
    let s = assignProduct(emptyBasket(T0, DAY), p('a'), 4, limits);
    s = assignProduct(s, p('a'), 0, limits);
    assert.deepEqual(s.cart, []);
    assert.deepEqual(s.saved, [{ productId: 'a', count: 4 }]);
  });

  it('count 0 for a new product saves it with count 1', () => {
    const s = assignProduct(emptyBasket(T0, DAY), p('a'), 0, limits);
    assert.deepEqual(s.saved, [{ productId: 'a', count: 1 }]);
  });

  it('a positive count moves a saved line back to the cart', () => {
    let s = assignProduct(emptyBasket(T0, DAY), p('a'), 0, limits);
    s = assignProduct(s, p('a'), 2, limits);
    assert.deepEqual(s.cart, [{ productId: 'a', count: 2 }]);
    assert.deepEqual(s.saved, []);
  });

  it('-1 removes the line from both lists, and is a no-op for an absent product', () => {
    let s = assignProduct(emptyBasket(T0, DAY), p('a'), 2, limits);
    s = assignProduct(s, p('b'), 0, limits);
    s = assignProduct(s, p('a'), -1, limits);
    s = assignProduct(s, p('b'), -1, limits);
    assert.deepEqual([s.cart, s.saved], [[], []]);
    assert.equal(assignProduct(s, p('zzz'), -1, limits), s);
  });

  it('keeps variant and main product id from the catalogue', () => {
    const s = assignProduct(emptyBasket(T0, DAY), { productId: 'shoe-42', variant: '42', mainProductIdentifier: 'shoe' }, 1, limits);
    assert.deepEqual(s.cart, [{ productId: 'shoe-42', count: 1, variant: '42', mainProductIdentifier: 'shoe' }]);
  });

  it('refuses a 21st distinct product but still overwrites a product in a full cart', () => {
    const full = fill(20);
    assert.equal(kindOf(() => assignProduct(full, p('new'), 1, limits)), 'CART_LIMIT_REACHED');
    const changed = assignProduct(full, p('p7'), 9, limits);
    assert.equal(changed.cart.length, 20);
    assert.equal(changed.cart[7]?.count, 9);
    // moving a product from a full cart to saved and another in is fine
    const saved = assignProduct(full, p('p0'), 0, limits);
    assert.equal(assignProduct(saved, p('new'), 1, limits).cart.length, 20);
  });

  it('a saved product cannot enter a full cart', () => {
    const s = assignProduct(fill(20), p('w'), 0, limits);
    assert.equal(kindOf(() => assignProduct(s, p('w'), 1, limits)), 'CART_LIMIT_REACHED');
  });

  it('rejects counts outside -1..max and non-integers', () => {
    for (const c of [-2, 100, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      assert.equal(kindOf(() => assignProduct(emptyBasket(T0, DAY), p('a'), c, limits)), 'REQUEST_VALIDATION_ERROR', `count ${c}`);
    }
    assert.equal(assignProduct(emptyBasket(T0, DAY), p('a'), 99, limits).cart[0]?.count, 99);
  });

  it('never touches checkout lines', () => {
    const s: BasketState = { ...emptyBasket(T0, DAY), checkout: [{ productId: 'a', count: 2, stocked: 2 }] };
    const next = assignProduct(s, p('a'), 5, limits);
    assert.deepEqual(next.checkout, s.checkout);
    assert.deepEqual(next.cart, [{ productId: 'a', count: 5 }]);
  });
});

describe('updateProduct', () => {
  it('needs the product in cart or saved', () => {
    assert.equal(kindOf(() => updateProduct(emptyBasket(T0, DAY), p('a'), 1, limits)), 'PRODUCT_NOT_IN_BASKET');
  });

  it('null leaves the basket as it is (same object, so nothing is written)', () => {
    const s = assignProduct(emptyBasket(T0, DAY), p('a'), 2, limits);
    assert.equal(updateProduct(s, p('a'), null, limits), s);
  });

  it('applies the assign rules to a product in the basket', () => {
    let s = assignProduct(emptyBasket(T0, DAY), p('a'), 2, limits);
    s = updateProduct(s, p('a'), 0, limits);
    assert.deepEqual(s.saved, [{ productId: 'a', count: 2 }]);
    s = updateProduct(s, p('a'), 7, limits);
    assert.deepEqual(s.cart, [{ productId: 'a', count: 7 }]);
    s = updateProduct(s, p('a'), -1, limits);
    assert.deepEqual([s.cart, s.saved], [[], []]);
  });
});

describe('removeProduct and clearBasket', () => {
  it('removes from cart and saved, 404 when absent', () => {
    let s = assignProduct(emptyBasket(T0, DAY), p('a'), 2, limits);
    s = assignProduct(s, p('b'), 0, limits);
    s = removeProduct(removeProduct(s, 'a'), 'b');
    assert.deepEqual([s.cart, s.saved], [[], []]);
    assert.equal(kindOf(() => removeProduct(s, 'a')), 'PRODUCT_NOT_IN_BASKET');
  });

  it('clears cart and saved; locked while a checkout is active', () => {
    const s = assignProduct(assignProduct(emptyBasket(T0, DAY), p('a'), 2, limits), p('b'), 0, limits);
    const cleared = clearBasket(s);
    assert.deepEqual([cleared.cart, cleared.saved], [[], []]);
    const empty = emptyBasket(T0, DAY);
    assert.equal(clearBasket(empty), empty);
    const locked: BasketState = {
      ...s,
      checkout: [{ productId: 'c', count: 1, stocked: 1 }],
      session: { id: 's1', orderNo: 'o1', startedAt: T0, expires: T0 + 1000 },
    };
    assert.equal(kindOf(() => clearBasket(locked)), 'BASKET_LOCKED');
  });
});

describe('expiry', () => {
  it('touch slides the expiry from the change time', () => {
    const s = touch(emptyBasket(T0, DAY), T0 + 5000, DAY);
    assert.equal(s.lastChanged, T0 + 5000);
    assert.equal(s.expires, T0 + 5000 + DAY);
  });

  it('an expired basket reads as absent unless a checkout holds it', () => {
    const s = emptyBasket(T0, DAY);
    assert.equal(liveBasket(s, T0 + DAY - 1), s);
    assert.equal(liveBasket(s, T0 + DAY), null);
    const held: BasketState = { ...s, session: { id: 's', orderNo: 'o', startedAt: T0, expires: T0 + DAY * 2 } };
    assert.equal(liveBasket(held, T0 + DAY + 1), held);
    assert.equal(liveBasket(null, T0), null);
  });
});

// A model of the list rules: a map productId → {list, count}. The real rules must agree with it on every
// sequence of operations, and the invariants (≤ max cart lines, no product in two lists, counts in range) hold.
type Op =
  | { op: 'assign'; id: string; count: number }
  | { op: 'update'; id: string; count: number | null }
  | { op: 'remove'; id: string }
  | { op: 'clear' };

interface ModelLine {
  list: 'cart' | 'saved';
  count: number;
}

function applyModel(model: Map<string, ModelLine>, op: Op, max: number): string | null {
  const cartSize = [...model.values()].filter((l) => l.list === 'cart').length;
  switch (op.op) {
    case 'clear':
      model.clear();
      return null;
    case 'remove':
      if (!model.has(op.id)) return 'PRODUCT_NOT_IN_BASKET';
      model.delete(op.id);
      return null;
    case 'update':
      if (!model.has(op.id)) return 'PRODUCT_NOT_IN_BASKET';
      if (op.count === null) return null;
      return applyModel(model, { op: 'assign', id: op.id, count: op.count }, max);
    case 'assign': {
      const cur = model.get(op.id);
      if (op.count === -1) {
        model.delete(op.id);
      } else if (op.count === 0) {
        model.set(op.id, { list: 'saved', count: cur?.count ?? 1 });
      } else {
        if (cur?.list !== 'cart' && cartSize >= max) return 'CART_LIMIT_REACHED';
        model.set(op.id, { list: 'cart', count: op.count });
      }
      return null;
    }
  }
}

function applyReal(state: BasketState, op: Op, lim: BasketLimits): BasketState {
  switch (op.op) {
    case 'clear':
      return clearBasket(state);
    case 'remove':
      return removeProduct(state, op.id);
    case 'update':
      return updateProduct(state, p(op.id), op.count, lim);
    case 'assign':
      return assignProduct(state, p(op.id), op.count, lim);
  }
}

describe('list rules against a model (property)', () => {
  const id = fc.constantFrom(...Array.from({ length: 8 }, (_, i) => `p${i}`));
  const count = fc.integer({ min: -1, max: 5 });
  const op: fc.Arbitrary<Op> = fc.oneof(
    { weight: 6, arbitrary: fc.record({ op: fc.constant('assign' as const), id, count }) },
    { weight: 2, arbitrary: fc.record({ op: fc.constant('update' as const), id, count: fc.option(count, { nil: null }) }) },
    { weight: 2, arbitrary: fc.record({ op: fc.constant('remove' as const), id }) },
    { weight: 1, arbitrary: fc.constant({ op: 'clear' as const }) },
  );

  it('agrees with the model and keeps the invariants', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 4 }), fc.array(op, { maxLength: 60 }), (max, ops) => {
        const lim: BasketLimits = { maxCartLines: max, maxLineCount: 99 };
        const model = new Map<string, ModelLine>();
        let state = emptyBasket(T0, DAY);
        for (const o of ops) {
          const expected = applyModel(model, o, max);
          let got: string | null = null;
          try {
            state = applyReal(state, o, lim);
          } catch (err) {
            if (!(err instanceof BasketError)) throw err;
            got = err.kind;
          }
          assert.equal(got, expected, JSON.stringify(o));
          assert.ok(state.cart.length <= max);
          const ids = [...state.cart, ...state.saved].map((l) => l.productId);
          assert.equal(new Set(ids).size, ids.length, 'a product is in at most one list, once');
          for (const l of state.cart) assert.ok(l.count >= 1 && l.count <= 99);
          for (const l of state.saved) assert.ok(l.count >= 1 && l.count <= 99);
          const real = new Map<string, ModelLine>([
            ...state.cart.map((l) => [l.productId, { list: 'cart', count: l.count }] as const),
            ...state.saved.map((l) => [l.productId, { list: 'saved', count: l.count }] as const),
          ]);
          assert.deepEqual(real, model);
        }
      }),
      { numRuns: 300 },
    );
  });
});
