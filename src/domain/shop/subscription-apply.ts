/**
 * Applying subscription changes (shop-api.md §3.4, §3.7): the lock a pending change puts on new starts, the change
 * a submission makes, and the pending change the worker applies when it is due. Pure functions over records, each
 * fit to run inside ShopStore.updateSubscription (synchronous, may run again when a concurrent write wins).
 */
import type { OfferRef, Subscription } from './records.js';
import { CHANGE_MESSAGES, SubscriptionChangeError } from './change-error.js';
import { sameRef, type ChangeQuote, type SubscriptionChangeDraft } from './subscription-change.js';

function sameRefs(a: readonly OfferRef[], b: readonly OfferRef[]): boolean {
  return a.length === b.length && a.every((r) => b.some((s) => sameRef(r, s)));
}

/**
 * The subscription with its pending change applied, when the change is due at `now` (effective ≤ now); null when
 * there is none or it is not due yet. Idempotent: applied once, the change is gone, so a second run returns null.
 * The term bounds are kept: the change takes effect at the stored term's end, from which the next term is read
 * (subscription-term.ts).
 */
export function applyDueChange(subscription: Subscription, now: number): Subscription | null {
  const pending = subscription.pendingChange;
  if (pending === null || pending.effective > now) return null;
  return {
    ...subscription,
    offer: { ...pending.offer },
    addOns: (pending.addOns ?? subscription.addOns).map((r) => ({ ...r })),
    pendingChange: null,
  };
}

/** Seconds a client should wait before the lock of a change effective at `effective` is gone (at least 1). */
export function retryAfterSeconds(effective: number, now: number): number {
  return Math.max(1, Math.ceil((effective - now) / 1000));
}

/** Throws the 423 of §3.4 while a pending change is not yet effective. A due one does not lock (it is applied). */
export function assertNotLocked(subscription: Subscription, now: number): void {
  const pending = subscription.pendingChange;
  if (pending !== null && pending.effective > now) {
    throw new SubscriptionChangeError(423, CHANGE_MESSAGES.locked, {
      effective: pending.effective,
      retryAfterSeconds: retryAfterSeconds(pending.effective, now),
    });
  }
}

/**
 * The subscription a change may start from at `now`: a due pending change applied first (null: nothing to write),
 * 423 while one is pending.
 */
export function prepareStart(subscription: Subscription, now: number): { subscription: Subscription; write: boolean } {
  const applied = applyDueChange(subscription, now);
  const s = applied ?? subscription;
  assertNotLocked(s, now);
  return { subscription: s, write: applied !== null };
}

/**
 * The subscription after submitting `quote` (made from `draft` for this subscription): an upgrade changes the offer
 * and add-ons now and moves the stored term to the one it is in (so the charge covered [now, term.end]); a downgrade
 * records the pending change at the quote's `effective` (applied at once when that is not after `now`).
 *
 * Returns null when the change is already in place (a repeated or concurrent submission of the same basket: one
 * change). Throws 423 while another change is pending, 409 when the subscription's offer, add-ons or stored term
 * are no longer the ones the change started from and the quote was made for.
 */
export function applySubmittedChange(subscription: Subscription, draft: SubscriptionChangeDraft, quote: ChangeQuote, now: number): Subscription | null {
  const { plan } = quote;
  const s = applyDueChange(subscription, now) ?? subscription;
  if (quote.kind === 'upgrade' || quote.effective <= now) {
    if (sameRef(s.offer, plan.offer) && sameRefs(s.addOns, plan.addOns) && s.pendingChange === null) return null;
  } else {
    const p = s.pendingChange;
    if (p !== null && p.effective === quote.effective && sameRef(p.offer, plan.offer) && sameRefs(p.addOns ?? s.addOns, plan.addOns)) return null;
  }
  assertNotLocked(s, now);
  const moved = s.termStart !== quote.storedTerm.start || s.termEnd !== quote.storedTerm.end;
  if (moved || s.id !== draft.subscriptionId || !sameRef(s.offer, draft.from.offer) || !sameRefs(s.addOns, draft.from.addOns)) {
    throw new SubscriptionChangeError(409, CHANGE_MESSAGES.changedSinceStart);
  }
  const addOns = plan.addOns.map((r) => ({ ...r }));
  if (quote.kind === 'upgrade' || quote.effective <= now) {
    return { ...s, offer: { ...plan.offer }, addOns, termStart: quote.term.start, termEnd: quote.term.end, pendingChange: null };
  }
  return { ...s, termStart: quote.term.start, termEnd: quote.term.end, pendingChange: { offer: { ...plan.offer }, effective: quote.effective, addOns } };
}
