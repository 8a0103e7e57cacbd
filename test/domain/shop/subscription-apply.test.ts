import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CHANGE_MESSAGES, SubscriptionChangeError } from '../../../src/domain/shop/change-error.js';
import { applyDueChange, applySubmittedChange, assertNotLocked, prepareStart, retryAfterSeconds } from '../../../src/domain/shop/subscription-apply.js';
import { chooseChange, quoteChange, startDraft, type ChoiceAction } from '../../../src/domain/shop/subscription-change.js';
import type { Subscription } from '../../../src/domain/shop/records.js';
import { catalogue, DAY, lookupOf, subscription, T0, T1 } from './fixtures.js';

const lookup = lookupOf(catalogue());
const mid = T0 + 15 * DAY;
const add = (id: string, version = 'v1', type: 'offer' | 'add_on' = 'offer'): ChoiceAction => ({ orderItemActionType: 'add', offer: { id, version }, type });

function refused(status: number, message?: string) {
  return (err: unknown): boolean => {
    assert.ok(err instanceof SubscriptionChangeError, String(err));
    assert.equal(err.status, status);
    if (message !== undefined) assert.equal(err.message, message);
    return true;
  };
}

/** Start a change of `sub`, choose `actions`, quote at `now`, apply: what a submission does. */
function submit(sub: Subscription, actions: ChoiceAction[], now: number, onto: Subscription = sub): Subscription | null {
  const draft = chooseChange(startDraft(sub), actions, lookup);
  const quote = quoteChange(sub, draft, lookup, now)!;
  return applySubmittedChange(onto, draft, quote, now);
}

const pendingLite = { offer: { id: 'lite', version: 'v1' }, effective: T1, addOns: [] };

describe('the pending-change lock', () => {
  it('Retry-After: whole seconds until the change, at least 1', () => {
    assert.equal(retryAfterSeconds(T1, T1 - 1500), 2);
    assert.equal(retryAfterSeconds(T1, T1 - 1000), 1);
    assert.equal(retryAfterSeconds(T1, T1), 1);
    assert.equal(retryAfterSeconds(T1, T1 - DAY), 86_400);
  });

  it('a change not yet effective locks new starts with 423, its date and Retry-After', () => {
    const sub = subscription({ pendingChange: pendingLite });
    assert.throws(
      () => assertNotLocked(sub, T1 - 10_500),
      (err: unknown) => {
        assert.ok(err instanceof SubscriptionChangeError);
        assert.equal(err.status, 423);
        assert.equal(err.message, CHANGE_MESSAGES.locked);
        assert.deepEqual(err.lock, { effective: T1, retryAfterSeconds: 11 });
        return true;
      },
    );
    assert.throws(() => prepareStart(sub, T1 - 1), refused(423));
    assert.doesNotThrow(() => assertNotLocked(subscription(), T1 - 1));
  });

  it('a due change does not lock: a start applies it first', () => {
    const sub = subscription({ pendingChange: pendingLite });
    const start = prepareStart(sub, T1);
    assert.equal(start.write, true);
    assert.deepEqual(start.subscription.offer, { id: 'lite', version: 'v1' });
    assert.equal(start.subscription.pendingChange, null);
    assert.deepEqual(prepareStart(subscription(), mid), { subscription: subscription(), write: false });
  });
});

describe('applying a due change (worker)', () => {
  it('nothing pending, or not due: nothing to write', () => {
    assert.equal(applyDueChange(subscription(), T1 + DAY), null);
    assert.equal(applyDueChange(subscription({ pendingChange: pendingLite }), T1 - 1), null);
  });

  it('due: the offer and add-ons become the pending ones, once', () => {
    const applied = applyDueChange(subscription({ pendingChange: pendingLite }), T1)!;
    assert.deepEqual(applied.offer, { id: 'lite', version: 'v1' });
    assert.deepEqual(applied.addOns, []);
    assert.equal(applied.pendingChange, null);
    assert.deepEqual([applied.termStart, applied.termEnd], [T0, T1]);
    assert.equal(applyDueChange(applied, T1 + DAY), null);
  });

  it('a pending change without add-ons keeps the ones held', () => {
    const applied = applyDueChange(subscription({ pendingChange: { offer: { id: 'lite', version: 'v1' }, effective: T1 } }), T1)!;
    assert.deepEqual(applied.addOns, [{ id: 'sport', version: 'v1' }]);
  });
});

describe('applying a submitted change', () => {
  it('an upgrade changes the offer and add-ons now; submitting it again changes nothing', () => {
    const sub = subscription();
    const after = submit(sub, [add('annual'), add('hd', 'v1', 'add_on')], mid)!;
    assert.deepEqual(after.offer, { id: 'annual', version: 'v1' });
    assert.deepEqual(after.addOns, [{ id: 'hd', version: 'v1' }]);
    assert.equal(after.pendingChange, null);
    assert.deepEqual([after.termStart, after.termEnd], [T0, T1]);
    assert.equal(submit(sub, [add('annual'), add('hd', 'v1', 'add_on')], mid + 1000, after), null);
  });

  it('a downgrade records the pending change at the term end, which then locks starts until it is applied', () => {
    const sub = subscription();
    const after = submit(sub, [add('lite')], mid)!;
    assert.deepEqual(after.offer, sub.offer);
    assert.deepEqual(after.pendingChange, { offer: { id: 'lite', version: 'v1' }, effective: T1, addOns: [] });
    assert.equal(submit(sub, [add('lite')], mid + 1000, after), null, 'the same change again: nothing to write');
    assert.throws(() => prepareStart(after, T1 - 1), refused(423));
    const applied = applyDueChange(after, T1)!;
    assert.deepEqual(applied.offer, { id: 'lite', version: 'v1' });
    assert.doesNotThrow(() => prepareStart(applied, T1));
  });

  it('after the stored term ended, the subscription moves to the renewal term it is in', () => {
    const later = T1 + 5 * DAY;
    const apr30 = Date.parse('2025-04-30T00:00:00Z');
    const up = submit(subscription(), [add('premium', 'v2')], later)!;
    assert.deepEqual([up.termStart, up.termEnd], [T1, apr30]);
    const down = submit(subscription(), [add('lite')], later)!;
    assert.deepEqual([down.termStart, down.termEnd, down.pendingChange?.effective], [T1, apr30, apr30]);
  });

  it('two changes started from the same subscription: the second one submitted is refused (409)', () => {
    const sub = subscription();
    const upgraded = submit(sub, [add('premium', 'v2')], mid)!;
    assert.throws(() => submit(sub, [add('lite')], mid, upgraded), refused(409, CHANGE_MESSAGES.changedSinceStart));
    const downgraded = submit(sub, [add('lite')], mid)!;
    assert.throws(() => submit(sub, [add('premium', 'v2')], mid, downgraded), refused(423));
  });

  it('a subscription whose add-ons or term bounds moved since the quote is refused (409)', () => {
    const sub = subscription();
    assert.throws(() => submit(sub, [add('premium', 'v2')], mid, { ...sub, addOns: [] }), refused(409));
    assert.throws(() => submit(sub, [add('premium', 'v2')], mid, { ...sub, termEnd: T1 + DAY }), refused(409));
  });
});
