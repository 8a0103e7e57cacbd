/**
 * Guest → account merge (issue 22) through the real server: strategies, the 20-line cart, the guest token
 * refused afterwards, idempotent repeats, recovery from a crash between the steps, and a property test with
 * concurrent writes to the account's basket (no line lost, no cart over 20), on the store TEST_STORE names.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { BasketView } from '../../src/http/routes/baskets.js';
import type { MergeReport } from '../../src/service/merge.js';
import { applyMerge, captureGuest, mergeId } from '../../src/domain/merge.js';
import type { GuestMergeMarker, MergeStrategy } from '../../src/domain/basket.js';
import { DEMO_KEY, OPEN_KEY, startTestServer, userHeaders, type EnvelopeBody, type GuestData, type TestServer } from './harness.js';

let t: TestServer;
before(async () => {
  t = await startTestServer();
});
after(() => t.close());

type Merged = BasketView & { merge: MergeReport };
interface Answer<T> {
  status: number;
  etag: string | undefined;
  body: EnvelopeBody<T>;
}

async function inject<T>(method: 'GET' | 'POST', url: string, headers: Record<string, string>, body?: unknown): Promise<Answer<T>> {
  const res = await t.server.app.inject({
    method,
    url,
    headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
  });
  return { status: res.statusCode, etag: res.headers.etag as string | undefined, body: res.json() as EnvelopeBody<T> };
}

async function newGuest(products: { productId: string; count?: number }[], apiKey = OPEN_KEY): Promise<GuestData> {
  const r = await inject<GuestData>('POST', '/v2/baskets/guests', { 'x-api-key': apiKey }, { products });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.data;
}

const account = async (user: string, apiKey = OPEN_KEY) => userHeaders(apiKey, apiKey === DEMO_KEY ? await t.demoToken(user) : await t.openToken(user));

async function assign(user: string, productId: string, count: number, apiKey = OPEN_KEY) {
  return inject<BasketView>('POST', `/v2/baskets/users/${user}/products/${productId}`, await account(user, apiKey), { count });
}

async function merge(user: string, body: unknown, extra: Record<string, string> = {}, prefix = '/v2', apiKey = OPEN_KEY) {
  return inject<Merged>('POST', `${prefix}/baskets/users/${user}/merge`, { ...(await account(user, apiKey)), ...extra }, body);
}

const lines = (ls: { productId: string; count: number }[]) => ls.map((l) => `${l.productId}:${l.count}`);

describe('guest → account merge', () => {
  it('moves cart and saved lines in (max by default), empties the guest basket and refuses its token afterwards', async () => {
    await assign('acct1', 'x', 2);
    await assign('acct1', 'keep', 0);
    const guest = await newGuest([{ productId: 'x', count: 5 }, { productId: 'y' }, { productId: 'z', count: 0 }]);
    const r = await merge('acct1', { guestToken: guest.token });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(lines(r.body.data.cart), ['x:5', 'y:1']);
    assert.deepEqual(lines(r.body.data.saved), ['keep:1', 'z:1']);
    assert.deepEqual(r.body.data.merge, { strategy: 'max', moved: 3, toSaved: [], alreadyMerged: false });
    assert.equal(r.etag, '"v3"');

    const guestHeaders = userHeaders(OPEN_KEY, guest.token);
    const guestView = await inject<BasketView>('GET', `/v2/baskets/users/${guest.userId}`, guestHeaders);
    assert.deepEqual([guestView.body.data.cart, guestView.body.data.saved], [[], []]);
    for (const [method, url, body] of [
      ['POST', `/v2/baskets/users/${guest.userId}/products/x`, { count: 1 }],
      ['POST', `/baskets/users/${guest.userId}/products/x`, { count: 0 }],
    ] as const) {
      const refused = await inject<null>(method, url, guestHeaders, body);
      assert.equal(refused.status, 410);
      assert.equal(refused.body.error?.code, 410);
      assert.equal(refused.body.error?.details, 'GUEST_BASKET_MERGED');
    }
    // a no-op of the rules writes nothing and is not refused
    assert.equal((await inject('POST', `/v2/baskets/users/${guest.userId}/products/x`, guestHeaders, { count: -1 })).status, 200);

    // repeated: a no-op that answers what the merge did
    const again = await merge('acct1', { guestToken: guest.token, strategy: 'sum' }, {}, '');
    assert.equal(again.status, 200);
    assert.deepEqual(lines(again.body.data.cart), ['x:5', 'y:1']);
    assert.deepEqual(again.body.data.merge, { strategy: 'max', moved: 3, toSaved: [], alreadyMerged: true });
    assert.equal(again.etag, '"v3"');
  });

  it('sum caps at the line maximum, replace takes the guest line; saved lines join an existing line', async () => {
    await assign('acct2', 'a', 90);
    await assign('acct2', 'b', 7);
    await assign('acct2', 'c', 3);
    await assign('acct2', 'c', 0);
    const g1 = await newGuest([{ productId: 'a', count: 20 }, { productId: 'b', count: 0 }, { productId: 'c', count: 4 }]);
    const summed = await merge('acct2', { guestToken: g1.token, strategy: 'sum' });
    assert.equal(summed.status, 200);
    // c was saved at the account and in the guest's cart: it moves up to the cart, counts summed
    assert.deepEqual([lines(summed.body.data.cart), lines(summed.body.data.saved)], [['a:99', 'b:8', 'c:7'], []]);

    const g2 = await newGuest([{ productId: 'a', count: 2 }, { productId: 'b', count: 1 }]);
    const replaced = await merge('acct2', { guestToken: g2.token, strategy: 'replace' });
    assert.deepEqual(lines(replaced.body.data.cart), ['a:2', 'b:1', 'c:7']);
  });

  it('keeps the cart at 20 products: guest cart lines beyond it go to saved and are reported', async () => {
    for (let i = 0; i < 19; i++) await assign('acct3', `own${i}`, 1);
    const guest = await newGuest([{ productId: 'g1' }, { productId: 'own3', count: 4 }, { productId: 'g2' }, { productId: 'g3' }]);
    const r = await merge('acct3', { guestToken: guest.token });
    assert.equal(r.status, 200);
    assert.equal(r.body.data.cart.length, 20);
    assert.deepEqual(r.body.data.merge.toSaved, ['g2', 'g3']);
    assert.deepEqual(lines(r.body.data.saved), ['g2:1', 'g3:1']);
    assert.equal(r.body.data.cart.find((l) => l.productId === 'own3')?.count, 4);
  });

  it('refuses bad tokens (422), guests as the account (403), a checkout in the guest basket (409), a stale If-Match (412)', async () => {
    const guest = await newGuest([{ productId: 'q' }]);
    const bad = await merge('acct4', { guestToken: 'not-a-jwt' });
    assert.equal(bad.status, 422);
    assert.equal((bad.body.error?.details as { field: string }[])[0]?.field, 'body.guestToken');
    const partnerToken = await merge('acct4', { guestToken: await t.openToken('someone') });
    assert.equal(partnerToken.status, 422);
    const otherPartnersGuest = await newGuest([{ productId: 'prod-123' }], DEMO_KEY);
    assert.equal((await merge('acct4', { guestToken: otherPartnersGuest.token })).status, 422);
    assert.equal((await merge('acct4', { guestToken: guest.token, strategy: 'min' })).status, 422);
    assert.equal((await merge('acct4', {})).status, 422);

    const asGuest = await inject<null>('POST', `/v2/baskets/users/${guest.userId}/merge`, userHeaders(OPEN_KEY, guest.token), { guestToken: guest.token });
    assert.equal(asGuest.status, 403);
    assert.equal(asGuest.body.error?.code, 2020);

    await assign('acct4', 'mine', 1);
    const stale = await merge('acct4', { guestToken: guest.token }, { 'if-match': '"v0"' });
    assert.equal(stale.status, 412);
    // the guest basket was not touched: its token still writes
    assert.equal((await inject('POST', `/v2/baskets/users/${guest.userId}/products/q2`, userHeaders(OPEN_KEY, guest.token), { count: 1 })).status, 200);
    const fresh = await merge('acct4', { guestToken: guest.token }, { 'if-match': '"v1"' });
    assert.equal(fresh.status, 200);
    assert.deepEqual(lines(fresh.body.data.cart), ['mine:1', 'q:1', 'q2:1']);

    const paying = await newGuest([{ productId: 'prod-789' }], DEMO_KEY);
    const started = await inject('POST', `/v2/baskets/users/${paying.userId}/checkout/sessions`, userHeaders(DEMO_KEY, paying.token), {});
    assert.equal(started.status, 200, JSON.stringify(started.body));
    const locked = await merge('acct5', { guestToken: paying.token }, {}, '/v2', DEMO_KEY);
    assert.equal(locked.status, 409);
    assert.equal(locked.body.error?.code, 2014);
  });

  it('a guest basket merged into one account answers 410 to another', async () => {
    const guest = await newGuest([{ productId: 'once' }]);
    assert.equal((await merge('acct6', { guestToken: guest.token })).status, 200);
    const other = await merge('acct7', { guestToken: guest.token });
    assert.equal(other.status, 410);
    assert.equal(other.body.error?.details, 'GUEST_BASKET_MERGED');
  });
});

describe('merge recovery (a crash between the steps, replayed through the store)', () => {
  const owner = (userId: string, guest: boolean) => ({ partnerId: 'open', userId, guest });
  async function capture(guestId: string, into: string, strategy: MergeStrategy): Promise<GuestMergeMarker> {
    const { result } = await t.server.baskets.changeStored(owner(guestId, true), (base) => {
      const next = captureGuest(base, into, mergeId(guestId, 'crashed'), strategy);
      return { next, result: next.mergedInto! };
    });
    return result;
  }

  it('after step 1: repeating the request applies the captured lines', async () => {
    await assign('rec1', 'a', 1);
    const guest = await newGuest([{ productId: 'a', count: 2 }, { productId: 'b' }]);
    await capture(guest.userId, 'rec1', 'sum');
    const r = await merge('rec1', { guestToken: guest.token, strategy: 'max' });
    assert.equal(r.status, 200);
    // the strategy of the interrupted request wins: it is the one captured
    assert.deepEqual(lines(r.body.data.cart), ['a:3', 'b:1']);
    assert.equal(r.body.data.merge.strategy, 'sum');
  });

  it('after step 2: repeating the request finishes the guest basket without adding twice', async () => {
    await assign('rec2', 'a', 1);
    const guest = await newGuest([{ productId: 'a', count: 2 }]);
    const marker = await capture(guest.userId, 'rec2', 'sum');
    await t.server.baskets.changeStored(owner('rec2', false), (base) => ({ next: applyMerge(base, marker, t.server.baskets.limits).state, result: null }));
    const r = await merge('rec2', { guestToken: guest.token, strategy: 'sum' });
    assert.equal(r.status, 200);
    assert.deepEqual(lines(r.body.data.cart), ['a:3']);
    assert.equal(r.body.data.merge.alreadyMerged, true);
    const stored = await t.server.store.getBasket(owner(guest.userId, true));
    assert.equal(stored?.state.mergedInto?.phase, 'done');
    assert.deepEqual(stored?.state.mergedInto?.cart, []);
  });

  it('a merge pending into another account is finished by whoever asks next', async () => {
    const guest = await newGuest([{ productId: 'p' }]);
    await capture(guest.userId, 'rec3', 'max');
    assert.equal((await merge('rec4', { guestToken: guest.token })).status, 410);
    const rec3 = await inject<BasketView>('GET', '/v2/baskets/users/rec3', await account('rec3'));
    assert.deepEqual(lines(rec3.body.data.cart), ['p:1']);
  });
});

describe('merge property', () => {
  const combine = (u: number, g: number, s: MergeStrategy) => (s === 'sum' ? Math.min(u + g, 99) : s === 'max' ? Math.max(u, g) : g);
  let run = 0;

  it('loses no line and never holds more than 20 in the cart, with writes to the account running alongside', async () => {
    const pool = Array.from({ length: 30 }, (_, i) => `p${i}`);
    const side = Array.from({ length: 8 }, (_, i) => `s${i}`);
    // sized so that the cart often overflows: many account lines, guests with lines of their own and shared ones
    const arbLines = (minLength: number) =>
      fc.uniqueArray(fc.record({ productId: fc.constantFrom(...pool), count: fc.integer({ min: 1, max: 99 }) }), {
        selector: (l) => l.productId,
        minLength,
        maxLength: 26,
      });
    const scenario = fc.record({
      user: arbLines(8),
      userSavedFrom: fc.integer({ min: 8, max: 26 }),
      guest: arbLines(3),
      guestSavedFrom: fc.nat({ max: 26 }),
      strategy: fc.constantFrom<MergeStrategy>('sum', 'max', 'replace'),
      concurrent: fc.uniqueArray(fc.record({ productId: fc.constantFrom(...side), count: fc.integer({ min: 0, max: 3 }) }), { selector: (w) => w.productId, maxLength: 6 }),
    });

    await fc.assert(
      fc.asyncProperty(scenario, async (sc) => {
        const user = `prop${++run}`;
        // at most 20 in each cart; the rest (and whatever the split says) saved
        const split = (ls: typeof sc.user, from: number) => ls.map((l, i) => ({ ...l, saved: i >= Math.min(from, 20) }));
        const userLines = split(sc.user, sc.userSavedFrom);
        const guestLines = split(sc.guest, sc.guestSavedFrom);
        // saved lines first, through the cart (a saved line keeps its cart count) while the cart has room
        for (const l of userLines.filter((x) => x.saved)) {
          assert.equal((await assign(user, l.productId, l.count)).status, 200);
          assert.equal((await assign(user, l.productId, 0)).status, 200);
        }
        for (const l of userLines.filter((x) => !x.saved)) assert.equal((await assign(user, l.productId, l.count)).status, 200);
        const guest = await newGuest(guestLines.map((l) => ({ productId: l.productId, count: l.saved ? 0 : l.count })));
        // the guest's saved lines keep count 1 (createGuestBasket's count 0 means "saved, count 1")
        const guestCount = (l: (typeof guestLines)[number]) => (l.saved ? 1 : l.count);

        const [merged, ...writes] = await Promise.all([
          merge(user, { guestToken: guest.token, strategy: sc.strategy }),
          ...sc.concurrent.map((w) => assign(user, w.productId, w.count)),
        ]);
        assert.equal(merged!.status, 200, JSON.stringify(merged!.body));
        const final = (await inject<BasketView>('GET', `/v2/baskets/users/${user}`, await account(user))).body.data;
        assert.ok(final.cart.length <= 20, `cart of ${final.cart.length}`);
        const where = new Map<string, number>();
        for (const l of [...final.cart, ...final.saved]) {
          assert.equal(where.has(l.productId), false, `${l.productId} twice`);
          where.set(l.productId, l.count);
        }
        const userCount = new Map(userLines.map((l) => [l.productId, l.count]));
        const guestCounts = new Map(guestLines.map((l) => [l.productId, guestCount(l)]));
        for (const id of new Set([...userCount.keys(), ...guestCounts.keys()])) {
          const u = userCount.get(id);
          const g = guestCounts.get(id);
          const want = u === undefined ? g : g === undefined ? u : combine(u, g, sc.strategy);
          assert.equal(where.get(id), want, `${id}: user ${u}, guest ${g}, ${sc.strategy}`);
        }
        sc.concurrent.forEach((w, i) => {
          if (writes[i]!.status === 200) assert.ok(where.has(w.productId), `concurrent ${w.productId} lost`);
          else assert.equal(writes[i]!.body.error?.code, 2008, 'only the cart limit may refuse a concurrent write');
        });
        for (const id of merged!.body.data.merge.toSaved) assert.ok(final.saved.some((l) => l.productId === id), `${id} reported to saved`);
        const guestAfter = await inject<BasketView>('GET', `/v2/baskets/users/${guest.userId}`, userHeaders(OPEN_KEY, guest.token));
        assert.deepEqual([guestAfter.body.data.cart, guestAfter.body.data.saved], [[], []]);
      }),
      { numRuns: 20 },
    );
  });
});
