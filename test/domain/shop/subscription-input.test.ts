import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Offer, OfferRef } from '../../../src/domain/shop/records.js';
import { parseSubscription, ShopInputError, subscriptionOfferProblem, subscriptionWire } from '../../../src/domain/shop/subscription-input.js';

const sub = {
  id: 'sub-1',
  name: 'SUB-0001',
  customer: { email: 'ada@example.com', firstName: 'Ada', lastName: 'Lovelace' },
  offer: { id: 'premium', version: 'v1' },
  addOns: [{ id: 'sports', version: 'v1' }],
  termStart: '2026-01-01T00:00:00.000Z',
  termEnd: '2027-01-01T00:00:00.000Z',
  pendingChange: { offer: { id: 'basic', version: 'v2' }, effective: '2027-01-01T00:00:00.000Z' },
};

function refused(input: unknown, pathId?: string): string | null {
  try {
    parseSubscription(input, 'demo', pathId);
    return null;
  } catch (err) {
    if (!(err instanceof ShopInputError)) throw err;
    return err.field;
  }
}

const offer = (id: string, version: string, type: Offer['type'], term: Offer['term']): Offer => ({
  id,
  version,
  name: id,
  path: `/${id}`,
  type,
  price: 100,
  currency: 'EUR',
  taxRateBp: 0,
  term,
  products: [],
  upgrades: [],
  downgrades: [],
  crossSells: [],
});
const monthly = { length: 1, unit: 'month' } as const;

describe('subscription input', () => {
  it('takes the wire form into epoch ms and gives it back as it was', () => {
    const s = parseSubscription(sub, 'demo');
    assert.equal(s.partnerId, 'demo');
    assert.equal(s.termStart, Date.UTC(2026, 0, 1));
    assert.equal(s.pendingChange?.effective, Date.UTC(2027, 0, 1));
    assert.deepEqual(subscriptionWire(s), sub);
  });

  it('reads offsets, and fills addOns [] and pendingChange null', () => {
    const { addOns: _a, pendingChange: _p, ...plain } = sub;
    const s = parseSubscription({ ...plain, termStart: '2026-01-01T01:00:00+01:00', termEnd: '2026-02-01T00:00Z' }, 'demo');
    assert.equal(s.termStart, Date.UTC(2026, 0, 1));
    assert.equal(s.termEnd, Date.UTC(2026, 1, 1));
    assert.deepEqual(s.addOns, []);
    assert.equal(s.pendingChange, null);
  });

  it('names the field it refuses', () => {
    const cases: [unknown, string][] = [
      [[], ''],
      [{ ...sub, name: '' }, 'name'],
      [{ ...sub, customer: { ...sub.customer, email: 'ada' } }, 'customer.email'],
      [{ ...sub, customer: { email: 'a@b.c', firstName: 'A' } }, 'customer.lastName'],
      [{ ...sub, offer: { id: 'premium' } }, 'offer.version'],
      [{ ...sub, offer: { id: 'premium', version: 'v/1' } }, 'offer.version'],
      [{ ...sub, addOns: [{ id: 'sports', version: 'v1' }, { id: 'sports', version: 'v2' }] }, 'addOns.1'],
      [{ ...sub, termStart: '2026-01-01' }, 'termStart'],
      [{ ...sub, termStart: '2026-01-01T00:00:00' }, 'termStart'],
      [{ ...sub, termStart: '2026-02-30T00:00:00Z' }, 'termStart'],
      [{ ...sub, termStart: '2026-01-01T24:00:00Z' }, 'termStart'],
      [{ ...sub, termStart: 1767225600000 }, 'termStart'],
      [{ ...sub, termEnd: sub.termStart }, 'termEnd'],
      [{ ...sub, pendingChange: { offer: sub.offer, effective: sub.termEnd } }, 'pendingChange.offer'],
      [{ ...sub, pendingChange: { offer: { id: 'basic', version: 'v2' } } }, 'pendingChange.effective'],
      [{ ...sub, extra: true }, 'extra'],
    ];
    for (const [input, field] of cases) assert.equal(refused(input), field, JSON.stringify(input));
    assert.equal(refused(sub, 'sub-2'), 'id');
    const { id: _id, ...noId } = sub;
    assert.equal(refused(noId), 'id');
    assert.equal(parseSubscription(noId, 'demo', 'sub-9').id, 'sub-9');
  });

  it('needs every offer version it names, of the right kind', () => {
    const s = parseSubscription(sub, 'demo');
    const all = [offer('premium', 'v1', 'offer', monthly), offer('sports', 'v1', 'add_on', monthly), offer('basic', 'v2', 'offer', monthly)];
    const lookup = (offers: Offer[]) => (r: OfferRef) => offers.find((o) => o.id === r.id && o.version === r.version);
    assert.equal(subscriptionOfferProblem(s, lookup(all)), null);
    const problem = (offers: Offer[]) => subscriptionOfferProblem(s, lookup(offers))?.field;
    assert.equal(problem(all.slice(1)), 'offer');
    assert.equal(problem([all[0]!, all[2]!]), 'addOns.0');
    assert.equal(problem(all.slice(0, 2)), 'pendingChange.offer');
    // a one-off offer is no subscription offer; an offer is no add-on
    assert.equal(problem([offer('premium', 'v1', 'offer', null), ...all.slice(1)]), 'offer');
    assert.equal(problem([all[0]!, offer('sports', 'v1', 'offer', monthly), all[2]!]), 'addOns.0');
    assert.equal(problem([...all.slice(0, 2), offer('basic', 'v2', 'add_on', monthly)]), 'pendingChange.offer');
  });
});
