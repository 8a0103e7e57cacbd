/** Guest product lists: merging repeated ids (the HTTP tests cover the rest through the real server). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mergeGuestProducts } from '../../src/service/guests.js';

describe('mergeGuestProducts', () => {
  it('sums repeated ids in first-seen order; an absent count is 1', () => {
    assert.deepEqual(
      mergeGuestProducts([{ productId: 'b', count: 2 }, { productId: 'a' }, { productId: 'b', count: 0 }, { productId: 'a', count: 4 }, { productId: 'c', count: 0 }]),
      [
        { productId: 'b', count: 2 },
        { productId: 'a', count: 5 },
        { productId: 'c', count: 0 },
      ],
    );
    assert.deepEqual(mergeGuestProducts([]), []);
  });

  it('does not confuse ids that differ only in case or look like object keys', () => {
    assert.deepEqual(mergeGuestProducts([{ productId: 'A' }, { productId: 'a' }, { productId: '__proto__' }, { productId: '__proto__' }]), [
      { productId: 'A', count: 1 },
      { productId: 'a', count: 1 },
      { productId: '__proto__', count: 2 },
    ]);
  });
});
