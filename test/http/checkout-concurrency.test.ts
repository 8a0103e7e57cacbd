/**
 * Oversell: 500 users start checkouts at once for a product with stock 10. Exactly 10 units are reserved; every
 * other line reports a negative `stocked`; then finish/abort/expiry leave stock and reservations consistent.
 * One user starting 50 checkouts at once gets one checkout; the others are told a checkout is already active,
 * reserve nothing and leave no order behind.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DEMO_KEY, startTestServer, userHeaders, type TestServer } from './harness.js';

let t: TestServer;
before(async () => {
  t = await startTestServer();
  await t.server.store.upsertProducts('demo', [
    { productId: 'rare-1', variant: null, mainProductIdentifier: null, name: 'Rare', brand: null, price: 1000, currency: 'EUR', taxRateBp: 1900, stock: 10, shopSource: null, slug: null, images: [] },
    { productId: 'few-1', variant: null, mainProductIdentifier: null, name: 'Few', brand: null, price: 2500, currency: 'EUR', taxRateBp: 1900, stock: 5, shopSource: null, slug: null, images: [] },
  ]);
});
after(() => t.close());

const USERS = 500;

async function inject(method: 'GET' | 'POST', url: string, token: string, body?: unknown) {
  const res = await t.server.app.inject({
    method,
    url,
    headers: userHeaders(DEMO_KEY, token, body === undefined ? {} : { 'content-type': 'application/json' }),
    ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
  });
  return { status: res.statusCode, body: res.json() };
}

async function stock(productId = 'rare-1') {
  const p = (await t.server.store.getProducts('demo', [productId])).get(productId)!;
  return { stock: p.stock!, reserved: p.reserved };
}

describe('no overselling', () => {
  it('500 concurrent checkouts reserve exactly the 10 units on hand', async () => {
    const users = Array.from({ length: USERS }, (_, i) => `c${i}`);
    const tokens = await Promise.all(users.map((u) => t.demoToken(u)));
    // every other user also has an unlimited line, so their checkout succeeds with a failed rare line
    await Promise.all(
      users.map(async (u, i) => {
        assert.equal((await inject('POST', `/v2/baskets/users/${u}/products/rare-1`, tokens[i]!, { count: 1 })).status, 200);
        if (i % 2 === 1) assert.equal((await inject('POST', `/v2/baskets/users/${u}/products/prod-789`, tokens[i]!, { count: 1 })).status, 200);
      }),
    );
    const results = await Promise.all(users.map((u, i) => inject('POST', `/v2/baskets/users/${u}/checkout/sessions`, tokens[i]!, {})));

    let reservedUnits = 0;
    const winners: number[] = [];
    const started: number[] = [];
    for (const [i, r] of results.entries()) {
      if (r.status === 200) {
        started.push(i);
        const rare = r.body.data.checkout.find((l: { productId: string }) => l.productId === 'rare-1');
        if (rare.stocked > 0) {
          reservedUnits += rare.stocked;
          winners.push(i);
        } else assert.equal(rare.stocked, -1);
      } else {
        assert.equal(r.status, 409, JSON.stringify(r.body));
        assert.equal(r.body.error.code, 2013);
        assert.equal(i % 2, 0, 'only users whose only line failed get 2013');
      }
    }
    assert.equal(reservedUnits, 10);
    assert.deepEqual(await stock(), { stock: 10, reserved: 10 });
    // every user with two lines started (the unlimited line is always available)
    assert.equal(started.filter((i) => i % 2 === 1).length, USERS / 2);

    // finish: three winners order, three abort, the rest expire; losers' sessions are finished one way or another
    const ordered = winners.slice(0, 3);
    const aborted = winners.slice(3, 6);
    for (const i of ordered) assert.equal((await inject('POST', `/v2/baskets/users/${users[i]}/checkout/sessions/finish-active`, tokens[i]!, { ordered: true })).status, 200);
    for (const i of aborted) assert.equal((await inject('POST', `/v2/baskets/users/${users[i]}/checkout/sessions/finish-active`, tokens[i]!, { ordered: false })).status, 200);
    assert.deepEqual(await stock(), { stock: 7, reserved: 4 });

    t.clock.now += 31 * 60_000;
    while ((await t.server.outbox.runOnce()) > 0) {
      /* drain expiries and deliveries */
    }
    assert.deepEqual(await stock(), { stock: 7, reserved: 0 });
    for (const i of started) {
      const b = await inject('GET', `/v2/baskets/users/${users[i]}`, tokens[i]!);
      assert.deepEqual(b.body.data.checkout, []);
    }
  });
});

describe('one user, many simultaneous starts', () => {
  it('50 starts at once: one checkout, 49 × 409 2014, nothing else reserved or ordered', async () => {
    const user = 'same-1';
    const token = await t.demoToken(user);
    assert.equal((await inject('POST', `/v2/baskets/users/${user}/products/few-1`, token, { count: 2 })).status, 200);
    assert.equal((await inject('POST', `/v2/baskets/users/${user}/products/prod-789`, token, { count: 1 })).status, 200);

    const results = await Promise.all(Array.from({ length: 50 }, () => inject('POST', `/v2/baskets/users/${user}/checkout/sessions`, token, {})));
    const ok = results.filter((r) => r.status === 200);
    assert.equal(ok.length, 1, JSON.stringify(results.filter((r) => r.status !== 200).map((r) => r.body.error)));
    for (const r of results) {
      if (r.status === 200) continue;
      assert.equal(r.status, 409, JSON.stringify(r.body));
      assert.equal(r.body.error.code, 2014, `never a false out of stock: ${JSON.stringify(r.body.error)}`);
      assert.equal(r.body.error.details, 'CHECKOUT_ALREADY_ACTIVE');
    }
    const won = ok[0]!.body.data;
    assert.deepEqual(
      won.checkout.map((l: { productId: string; stocked: number | null }) => [l.productId, l.stocked]),
      [['few-1', 2], ['prod-789', null]],
    );
    assert.deepEqual(await stock('few-1'), { stock: 5, reserved: 2 }, 'only the winner reserved');
    const orders = (await t.server.store.listOrders('demo', user, 100, null)).orders;
    assert.deepEqual(orders.map((o) => [o.orderNo, o.status]), [[won.orderNo, 'pending_payment']], 'no cancelled orders left behind');

    // the basket holds the one session; once it ends, the user can start again
    assert.equal((await inject('POST', `/v2/baskets/users/${user}/checkout/sessions/finish-active`, token, { ordered: false })).status, 200);
    assert.deepEqual(await stock('few-1'), { stock: 5, reserved: 0 });
    const again = await inject('POST', `/v2/baskets/users/${user}/checkout/sessions`, token, {});
    assert.equal(again.status, 200, JSON.stringify(again.body));
    assert.deepEqual(await stock('few-1'), { stock: 5, reserved: 2 });
  });
});
