/**
 * Races between separate store instances (separate connections, separate in-process queues), so that only the
 * store's own compare-and-set / row locks keep them apart — as between processes, but cheap to run.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { BasketKey, Store } from '../../../src/store/store.js';

export async function assertNoLostUpdateAcrossInstances(stores: Store[], perStore = 40): Promise<void> {
  const key: BasketKey = { partnerId: `p-${randomUUID()}`, userId: `u-${randomUUID()}` };
  const seen = await Promise.all(
    stores.flatMap((store) =>
      Array.from({ length: perStore }, () =>
        store.updateBasket(key, (current) => {
          const count = (current?.state.cart[0]?.count ?? 0) + 1;
          return {
            state: { cart: [{ productId: 'C', count }], saved: [], checkout: [], lastChanged: 0, expires: 1, session: null },
            result: count,
          };
        }),
      ),
    ),
  );
  const total = stores.length * perStore;
  assert.deepEqual(
    seen.sort((a, b) => a - b),
    Array.from({ length: total }, (_, i) => i + 1),
    'every committed increment saw a distinct value',
  );
  const stored = await stores[0]!.getBasket(key);
  assert.equal(stored?.state.cart[0]?.count, total);
  assert.equal(stored?.version, total);
}

/** A change written through store `a` reaches a listener on store `b` (another instance, as another process would). */
export async function assertChangeSeenAcrossInstances(a: Store, b: Store): Promise<void> {
  const key: BasketKey = { partnerId: `p-${randomUUID()}`, userId: `u-${randomUUID()}` };
  const seen: BasketKey[] = [];
  // only this key: notifications of an earlier test's writes may still be on their way to b
  const off = b.onBasketChange((k) => k.partnerId === key.partnerId && seen.push(k));
  try {
    await a.updateBasket(key, () => ({
      state: { cart: [{ productId: 'N', count: 1 }], saved: [], checkout: [], lastChanged: 0, expires: 1, session: null },
      result: null,
    }));
    const deadline = Date.now() + 5000;
    while (seen.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(seen, [key]);
  } finally {
    off();
  }
}
