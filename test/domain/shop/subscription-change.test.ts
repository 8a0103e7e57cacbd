import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CHANGE_MESSAGES, SubscriptionChangeError } from '../../../src/domain/shop/change-error.js';
import {
  chooseChange,
  classifyChange,
  nextActionIds,
  nextActions,
  planChange,
  quoteChange,
  refsToResolve,
  startDraft,
  type ChoiceAction,
  type SubscriptionChangeDraft,
} from '../../../src/domain/shop/subscription-change.js';
import { addOn, catalogue, DAY, lookupOf, newestOf, offer, subscription, T0, T1 } from './fixtures.js';

const offers = catalogue();
const lookup = lookupOf(offers);
const find = (id: string, version = 'v1') => lookup({ id, version })!;

function refused(status: number, message?: string | RegExp) {
  return (err: unknown): boolean => {
    assert.ok(err instanceof SubscriptionChangeError, String(err));
    assert.equal(err.status, status);
    if (typeof message === 'string') assert.equal(err.message, message);
    else if (message) assert.match(err.message, message);
    return true;
  };
}

const add = (id: string, version = 'v1', type: 'offer' | 'add_on' = 'offer'): ChoiceAction => ({ orderItemActionType: 'add', offer: { id, version }, type });
const remove = (id: string, version = 'v1', type: 'offer' | 'add_on' = 'offer'): ChoiceAction => ({ orderItemActionType: 'remove', offer: { id, version }, type });

function choose(actions: ChoiceAction[], draft: SubscriptionChangeDraft = startDraft(subscription())): SubscriptionChangeDraft {
  return chooseChange(draft, actions, lookup);
}

describe('classifying a chosen offer', () => {
  it('upgrade when listed in upgrades, downgrade when in downgrades', () => {
    assert.equal(classifyChange(find('basic'), find('premium', 'v2')), 'upgrade');
    assert.equal(classifyChange(find('basic'), find('annual')), 'upgrade');
    assert.equal(classifyChange(find('basic'), find('lite')), 'downgrade');
    assert.equal(classifyChange(find('premium'), find('basic')), 'downgrade');
  });

  it('an id in both lists is an upgrade', () => {
    const current = offer('x', { upgrades: ['basic'], downgrades: ['basic'] });
    assert.equal(classifyChange(current, find('basic')), 'upgrade');
  });

  it('refuses anything else with a 400', () => {
    assert.throws(() => classifyChange(find('basic'), find('hd')), refused(400, /neither an upgrade nor a downgrade/));
    assert.throws(() => classifyChange(find('lite'), find('premium')), refused(400, /neither an upgrade nor a downgrade/));
    assert.throws(() => classifyChange(find('basic'), find('basic')), refused(400, /current offer/));
  });

  it('refuses listed targets that cannot hold a subscription', () => {
    const current = offer('x', { upgrades: ['sport', 'movie', 'dollar'] });
    assert.throws(() => classifyChange(current, find('sport')), refused(400, /add-on/));
    assert.throws(() => classifyChange(current, find('movie')), refused(400, /one-off/));
    assert.throws(() => classifyChange(current, find('dollar')), refused(400, /USD/));
  });
});

describe('next actions', () => {
  it('newest versions of upgrades, downgrades and cross-sells; add-ons as held', () => {
    const basic = find('basic');
    assert.deepEqual(nextActionIds(basic), ['premium', 'annual', 'missing', 'lite', 'sport', 'oneoff-addon']);
    const held = [find('sport')];
    const next = nextActions(basic, newestOf(offers), held);
    assert.deepEqual(next.upgrades.map((o) => [o.id, o.version]), [['premium', 'v2'], ['annual', 'v1']]);
    assert.deepEqual(next.downgrades.map((o) => o.id), ['lite']);
    // the one-off add-on could not be added to a subscription, so it is not proposed
    assert.deepEqual(next.crossSells.map((o) => o.id), ['sport']);
    assert.deepEqual(next.subscriptionAddOns, held);
    assert.equal(next.upgrades[0]!.price, 2200, 'full offer objects');
  });

  it('leaves out what a PUT would refuse, and duplicates', () => {
    const current = offer('x', { upgrades: ['dollar', 'movie', 'premium', 'premium', 'x'], downgrades: ['premium', 'lite'], crossSells: ['hd', 'basic'] });
    const next = nextActions(current, newestOf(offers), []);
    assert.deepEqual(next.upgrades.map((o) => o.id), ['premium']);
    assert.deepEqual(next.downgrades.map((o) => o.id), ['lite']);
    assert.deepEqual(next.crossSells.map((o) => o.id), ['hd']);
  });
});

describe('choosing (PUT)', () => {
  it('one offer add per request, and not none', () => {
    assert.throws(() => choose([add('premium', 'v2'), add('lite')]), refused(400, CHANGE_MESSAGES.invalidChoice));
    assert.throws(() => choose([]), refused(400, CHANGE_MESSAGES.invalidChoice));
  });

  it('an upgrade generates the remove of the current offer and keeps add-ons the new offer cross-sells', () => {
    const draft = choose([add('premium', 'v2')]);
    assert.deepEqual(draft.chosen, { offer: { id: 'premium', version: 'v2' }, kind: 'upgrade' });
    const plan = planChange(draft, lookup);
    assert.equal(plan.kind, 'upgrade');
    assert.deepEqual(plan.offer, { id: 'premium', version: 'v2' });
    assert.deepEqual(plan.addOns, [{ id: 'sport', version: 'v1' }]);
    assert.deepEqual(
      plan.items.map((i) => [i.orderItemActionType, i.type, i.offer.id]),
      [['remove', 'offer', 'basic'], ['add', 'offer', 'premium']],
    );
  });

  it('add-ons the new offer does not cross-sell are removed', () => {
    const plan = planChange(choose([add('annual')]), lookup);
    assert.deepEqual(plan.addOns, []);
    assert.deepEqual(
      plan.items.map((i) => [i.orderItemActionType, i.type, i.offer.id]),
      [['remove', 'offer', 'basic'], ['add', 'offer', 'annual'], ['remove', 'add_on', 'sport']],
    );
  });

  it('add-ons may be added when the target cross-sells them, in either order of actions', () => {
    for (const actions of [[add('annual'), add('hd', 'v1', 'add_on')], [add('hd', 'v1', 'add_on'), add('annual')]]) {
      const plan = planChange(choose(actions), lookup);
      assert.deepEqual(plan.addOns, [{ id: 'hd', version: 'v1' }]);
      assert.deepEqual(plan.items.at(-1), { orderItemActionType: 'add', type: 'add_on', offer: { id: 'hd', version: 'v1' }, quantity: 1, parentId: 'annual' });
    }
    assert.throws(() => choose([add('lite'), add('hd', 'v1', 'add_on')]), refused(400, /not a cross-sell of offer "lite"/));
    // without a new offer, against the current one
    assert.throws(() => choose([add('hd', 'v1', 'add_on')]), refused(400, /not a cross-sell of offer "basic"/));
    assert.throws(() => choose([add('premium', 'v2'), add('oneoff-addon', 'v1', 'add_on')]), refused(400, /one-off/));
  });

  it('explicit add-on removes; removing one not held is a no-op; the same id again replaces the version', () => {
    let plan = planChange(choose([add('premium', 'v2'), remove('sport', 'v1', 'add_on'), remove('hd', 'v1', 'add_on')]), lookup);
    assert.deepEqual(plan.addOns, []);
    assert.deepEqual(plan.items.at(-1), { orderItemActionType: 'remove', type: 'add_on', offer: { id: 'sport', version: 'v1' }, quantity: 1, parentId: null });

    const local = lookupOf([...offers, addOn('sport', { version: 'v2', price: 350 })]);
    const draft = chooseChange(startDraft(subscription()), [add('premium', 'v2'), add('sport', 'v2', 'add_on')], local);
    plan = planChange(draft, local);
    assert.deepEqual(plan.addOns, [{ id: 'sport', version: 'v2' }]);
    assert.deepEqual(
      plan.items.slice(2).map((i) => [i.orderItemActionType, i.offer.id, i.offer.version]),
      [['remove', 'sport', 'v1'], ['add', 'sport', 'v2']],
    );
  });

  it('a later choice replaces the earlier one; removing the chosen offer withdraws it', () => {
    let draft = choose([add('premium', 'v2')]);
    draft = choose([add('lite')], draft);
    assert.deepEqual(draft.chosen, { offer: { id: 'lite', version: 'v1' }, kind: 'downgrade' });
    draft = choose([remove('lite')], draft);
    assert.equal(draft.chosen, null);
    assert.deepEqual(planChange(draft, lookup).items, []);
  });

  it('the current offer may be removed only beside the offer that replaces it', () => {
    assert.equal(choose([remove('basic'), add('premium', 'v2')]).chosen?.kind, 'upgrade');
    assert.throws(() => choose([remove('basic')]), refused(400, /cannot be removed/));
    assert.throws(() => choose([remove('premium', 'v2')]), refused(400, /cannot be removed/));
  });

  it('unknown offers, wrong types and quantities other than 1 are refused; the draft is not changed', () => {
    const draft = startDraft(subscription());
    const before = structuredClone(draft);
    assert.throws(() => choose([add('premium', 'v9')], draft), refused(400, /"premium" version "v9" not found/));
    assert.throws(() => choose([add('sport')], draft), refused(400, /of type add_on, not offer/));
    assert.throws(() => choose([add('premium', 'v2', 'add_on')], draft), refused(400, /of type offer, not add_on/));
    assert.throws(() => choose([{ ...add('premium', 'v2'), quantity: 2 }], draft), refused(400, /must be 1/));
    assert.throws(() => choose([add('hd', 'v1', 'add_on'), add('premium', 'v2'), add('movie')], draft), refused(400, CHANGE_MESSAGES.invalidChoice));
    assert.deepEqual(draft, before);
    assert.equal(choose([{ ...add('premium', 'v2'), quantity: 1, parentId: 'anything' }], draft).chosen?.kind, 'upgrade');
  });

  it('lists every offer it needs resolved', () => {
    const draft = choose([add('premium', 'v2')]);
    assert.deepEqual(refsToResolve(draft, [add('hd', 'v1', 'add_on'), add('premium', 'v2')]), [
      { id: 'basic', version: 'v1' },
      { id: 'sport', version: 'v1' },
      { id: 'hd', version: 'v1' },
      { id: 'premium', version: 'v2' },
    ]);
  });
});

describe('quoting', () => {
  const sub = subscription();
  const mid = T0 + 15 * DAY; // half of the 30-day term left

  it('nothing chosen: no quote', () => {
    assert.equal(quoteChange(sub, startDraft(sub), lookup, mid), null);
  });

  it('an upgrade applies now and charges the difference of offer and add-ons for the rest of the term', () => {
    // 10.00 + 3.00 → 22.00 + 3.00: 12.00 a month, half left
    const q = quoteChange(sub, choose([add('premium', 'v2')]), lookup, mid)!;
    assert.deepEqual([q.kind, q.effective, q.charge, q.currency], ['upgrade', mid, 600, 'EUR']);
    assert.deepEqual(q.term, { start: T0, end: T1 });
    // to annual 216.00 (18.00 a month), dropping sport: 18.00 − 13.00 = 5.00 a month, half left
    assert.equal(quoteChange(sub, choose([add('annual')]), lookup, mid)!.charge, 250);
    // adding hd as well: 5.00 more a month
    assert.equal(quoteChange(sub, choose([add('annual'), add('hd', 'v1', 'add_on')]), lookup, mid)!.charge, 500);
  });

  it('a downgrade takes effect at the end of the term and charges nothing now', () => {
    const q = quoteChange(sub, choose([add('lite')]), lookup, mid)!;
    assert.deepEqual([q.kind, q.effective, q.charge], ['downgrade', T1, 0]);
    assert.deepEqual(q.plan.addOns, []);
  });

  it('after the stored term ended, the renewal term counts', () => {
    const later = T1 + 5 * DAY;
    const apr30 = Date.parse('2025-04-30T00:00:00Z');
    const down = quoteChange(sub, choose([add('lite')]), lookup, later)!;
    assert.deepEqual([down.effective, down.term], [apr30, { start: T1, end: apr30 }]);
    const up = quoteChange(sub, choose([add('premium', 'v2')]), lookup, later)!;
    assert.equal(up.charge, 1000); // 12.00 × 25 / 30 days
  });
});
