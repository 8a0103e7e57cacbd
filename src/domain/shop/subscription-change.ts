/**
 * Choosing a subscription change (shop-api.md §3.4–§3.6): which offers a subscription may move to, the draft an
 * `update_subscription` basket keeps, the actions of `PUT /api/checkout/subscription` applied to it, and what the
 * change would cost now. Pure: offers are looked up through a function over what the caller fetched; no clock.
 *
 * Rules (docs/decisions.md, "Subscription changes"):
 * - A target is an upgrade when the current offer lists its id in `upgrades`, a downgrade when in `downgrades`
 *   (upgrades first if an id is in both), else refused (400). A target must be a recurring offer (type `offer`,
 *   a term) in the current offer's currency.
 * - One offer `add` per request. Choosing another offer later replaces the choice; `remove` of the chosen offer
 *   withdraws it; `remove` of the current offer is accepted only beside an offer `add` (it is generated anyway).
 * - Add-ons: `add` must name a recurring add-on in the currency that the target offer (chosen, else current) lists
 *   in `crossSells`; the same id again replaces the version held. `remove` of one not held is a no-op. When an offer
 *   is chosen, held add-ons it does not list in `crossSells` are removed (generated).
 * - Quantity: subscriptions hold one of each offer, so a quantity, when given, must be 1. `parentId` is not
 *   needed (an add-on belongs to the subscription's offer) and is ignored.
 */
import type { Offer, OfferRef, Subscription } from './records.js';
import { CHANGE_MESSAGES, SubscriptionChangeError } from './change-error.js';
import { prorationCharge, type TermPrice } from './proration.js';
import { currentTerm, type TermBounds } from './subscription-term.js';

export type ChangeKind = 'upgrade' | 'downgrade';

/** The subscription change an `update_subscription` basket holds (in `details.subscriptionChange`). */
export interface SubscriptionChangeDraft {
  subscriptionId: string;
  /** The subscription's offer and add-ons when the change was started. */
  from: { offer: OfferRef; addOns: OfferRef[] };
  /** The offer chosen by PUT, and how it relates to `from.offer`; null until one is chosen. */
  chosen: { offer: OfferRef; kind: ChangeKind } | null;
  /** Add-ons asked for: the held ones, less explicit removes, plus explicit adds (before the cross-sell rule). */
  addOns: OfferRef[];
}

/** Resolves an exact {id, version} among the offers the caller fetched. */
export type OfferLookup = (ref: OfferRef) => Offer | undefined;

export function sameRef(a: OfferRef, b: OfferRef): boolean {
  return a.id === b.id && a.version === b.version;
}

export function refOf(offer: Offer): OfferRef {
  return { id: offer.id, version: offer.version };
}

function describe(ref: OfferRef): string {
  return `${JSON.stringify(ref.id)} version ${JSON.stringify(ref.version)}`;
}

export function startDraft(subscription: Subscription): SubscriptionChangeDraft {
  const addOns = subscription.addOns.map((r) => ({ id: r.id, version: r.version }));
  return {
    subscriptionId: subscription.id,
    from: { offer: { ...subscription.offer }, addOns },
    chosen: null,
    addOns: addOns.map((r) => ({ ...r })),
  };
}

// --- what a subscription may move to -------------------------------------------------------------------------

/** Why `candidate` cannot be the subscription's offer after a change from `current` (null: it can). */
function targetProblem(current: Offer, candidate: Offer): string | null {
  if (candidate.type !== 'offer') return `${describe(refOf(candidate))} is an add-on, not an offer`;
  if (candidate.term === null) return `${describe(refOf(candidate))} is a one-off offer, not a subscription`;
  if (candidate.currency !== current.currency) return `${describe(refOf(candidate))} is priced in ${candidate.currency}, the subscription in ${current.currency}`;
  return null;
}

/** Why `candidate` cannot be added to a subscription of `target` (null: it can). */
function addOnProblem(target: Offer, candidate: Offer): string | null {
  if (candidate.type !== 'add_on') return `${describe(refOf(candidate))} is not an add-on`;
  if (candidate.term === null) return `${describe(refOf(candidate))} is a one-off add-on, not a recurring one`;
  if (candidate.currency !== target.currency) return `${describe(refOf(candidate))} is priced in ${candidate.currency}, the subscription in ${target.currency}`;
  if (!target.crossSells.includes(candidate.id)) return `Add-on ${JSON.stringify(candidate.id)} is not a cross-sell of offer ${JSON.stringify(target.id)}`;
  return null;
}

/** Upgrade or downgrade of `current`; a SubscriptionChangeError (400) otherwise. */
export function classifyChange(current: Offer, chosen: Offer): ChangeKind {
  if (chosen.id === current.id) throw new SubscriptionChangeError(400, `Offer ${JSON.stringify(chosen.id)} is the subscription's current offer`);
  const kind: ChangeKind | null = current.upgrades.includes(chosen.id) ? 'upgrade' : current.downgrades.includes(chosen.id) ? 'downgrade' : null;
  if (kind === null) {
    throw new SubscriptionChangeError(400, `Offer ${JSON.stringify(chosen.id)} is neither an upgrade nor a downgrade of offer ${JSON.stringify(current.id)}`);
  }
  const problem = targetProblem(current, chosen);
  if (problem !== null) throw new SubscriptionChangeError(400, problem);
  return kind;
}

export interface NextActions {
  upgrades: Offer[];
  downgrades: Offer[];
  crossSells: Offer[];
  subscriptionAddOns: Offer[];
}

/** The offer ids whose newest versions `nextActions` needs, each once. */
export function nextActionIds(current: Offer): string[] {
  return [...new Set([...current.upgrades, ...current.downgrades, ...current.crossSells])];
}

/**
 * What a change may propose (§3.4): the newest versions of the current offer's upgrades, downgrades and cross-sells,
 * each in its list's order, leaving out ids not loaded and offers a PUT would refuse (so every proposal can be
 * chosen); and the subscription's add-ons as held (their own versions; `heldAddOns` is what the caller resolved).
 */
export function nextActions(current: Offer, newest: readonly Offer[], heldAddOns: readonly Offer[]): NextActions {
  const byId = new Map(newest.map((o) => [o.id, o]));
  const pick = (ids: readonly string[], ok: (o: Offer) => boolean): Offer[] =>
    [...new Set(ids)].flatMap((id) => {
      const o = byId.get(id);
      return o !== undefined && o.id !== current.id && ok(o) ? [o] : [];
    });
  const target = (o: Offer): boolean => targetProblem(current, o) === null;
  const upgrades = pick(current.upgrades, target);
  const upgradeIds = new Set(upgrades.map((o) => o.id));
  return {
    upgrades,
    downgrades: pick(current.downgrades, (o) => !upgradeIds.has(o.id) && target(o)),
    crossSells: pick(current.crossSells, (o) => addOnProblem(current, o) === null),
    subscriptionAddOns: [...heldAddOns],
  };
}

// --- PUT: choosing ---------------------------------------------------------------------------------------------

export interface ChoiceAction {
  orderItemActionType: 'add' | 'remove';
  offer: OfferRef;
  type: 'offer' | 'add_on';
  quantity?: number | undefined;
  parentId?: string | undefined;
}

/** Every {id, version} that `chooseChange`, `planChange` and `quoteChange` look up, each once. */
export function refsToResolve(draft: SubscriptionChangeDraft, actions: readonly ChoiceAction[] = []): OfferRef[] {
  const refs = [draft.from.offer, ...draft.from.addOns, ...draft.addOns, ...actions.map((a) => a.offer)];
  if (draft.chosen !== null) refs.push(draft.chosen.offer);
  const seen = new Set<string>();
  return refs.filter((r) => {
    const key = JSON.stringify([r.id, r.version]);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function resolve(lookup: OfferLookup, ref: OfferRef): Offer {
  const offer = lookup(ref);
  if (offer === undefined) throw new SubscriptionChangeError(400, `Offer ${describe(ref)} not found`);
  return offer;
}

/** The subscription's offer when the change started; its absence is a data fault, reported as a changed subscription. */
function fromOffer(draft: SubscriptionChangeDraft, lookup: OfferLookup): Offer {
  const offer = lookup(draft.from.offer);
  if (offer === undefined) throw new SubscriptionChangeError(409, CHANGE_MESSAGES.changedSinceStart);
  return offer;
}

/** Applies one PUT's actions to the draft (all or nothing: it returns a new draft or throws a 400). */
export function chooseChange(draft: SubscriptionChangeDraft, actions: readonly ChoiceAction[], lookup: OfferLookup): SubscriptionChangeDraft {
  if (actions.length === 0) throw new SubscriptionChangeError(400, CHANGE_MESSAGES.invalidChoice);
  const offerAdds = actions.filter((a) => a.orderItemActionType === 'add' && a.type === 'offer');
  if (offerAdds.length > 1) throw new SubscriptionChangeError(400, CHANGE_MESSAGES.invalidChoice);
  for (const a of actions) {
    if (a.quantity !== undefined && a.quantity !== 1) {
      throw new SubscriptionChangeError(400, `Quantity of ${describe(a.offer)} must be 1: a subscription holds one of each offer`);
    }
  }
  const current = fromOffer(draft, lookup);
  let chosen = draft.chosen;
  let addOns = draft.addOns.map((r) => ({ ...r }));
  const addOnAdds: Offer[] = [];

  for (const a of actions) {
    const offer = resolve(lookup, a.offer);
    if (offer.type !== a.type) throw new SubscriptionChangeError(400, `${describe(a.offer)} is of type ${offer.type}, not ${a.type}`);
    if (a.type === 'offer') {
      if (a.orderItemActionType === 'add') {
        chosen = { offer: refOf(offer), kind: classifyChange(current, offer) };
      } else if (chosen !== null && sameRef(chosen.offer, a.offer)) {
        chosen = null;
      } else if (!(sameRef(draft.from.offer, a.offer) && offerAdds.length === 1)) {
        // removing the current offer alone would end the subscription, which a change cannot do
        throw new SubscriptionChangeError(400, `Offer ${describe(a.offer)} cannot be removed: only the current offer, beside the offer that replaces it`);
      }
    } else if (a.orderItemActionType === 'add') {
      addOns = [...addOns.filter((r) => r.id !== offer.id), refOf(offer)];
      addOnAdds.push(offer);
    } else {
      addOns = addOns.filter((r) => !sameRef(r, a.offer));
    }
  }

  // added add-ons are checked against the offer the subscription will have, whatever the order of the actions
  const target = chosen === null ? current : resolve(lookup, chosen.offer);
  for (const addOn of addOnAdds) {
    if (!addOns.some((r) => sameRef(r, refOf(addOn)))) continue; // removed again later in the same request
    const problem = addOnProblem(target, addOn);
    if (problem !== null) throw new SubscriptionChangeError(400, problem);
  }
  return { subscriptionId: draft.subscriptionId, from: draft.from, chosen, addOns };
}

/** One line of the change as the basket answers it: what is removed and what is added. */
export interface PlannedItem {
  orderItemActionType: 'add' | 'remove';
  type: 'offer' | 'add_on';
  offer: OfferRef;
  quantity: 1;
  /** Add-on adds: the id of the offer they belong to. */
  parentId: string | null;
}

export interface ChangePlan {
  kind: ChangeKind | null;
  /** The subscription's offer and add-ons once the change is applied. */
  offer: OfferRef;
  addOns: OfferRef[];
  items: PlannedItem[];
}

/**
 * The change the draft describes: with an offer chosen, the generated remove of the current offer and of held
 * add-ons the new offer does not list in `crossSells`; explicit add-on adds and removes in any case.
 */
export function planChange(draft: SubscriptionChangeDraft, lookup: OfferLookup): ChangePlan {
  const target = draft.chosen === null ? fromOffer(draft, lookup) : resolve(lookup, draft.chosen.offer);
  const offer = refOf(target);
  const held = (r: OfferRef): boolean => draft.from.addOns.some((h) => sameRef(h, r));
  // without a new offer, held add-ons stay as they are; everything else must be a cross-sell of the target
  const addOns = draft.addOns.filter((r) => target.crossSells.includes(r.id) || (draft.chosen === null && held(r)));
  const items: PlannedItem[] = [];
  if (draft.chosen !== null) {
    items.push({ orderItemActionType: 'remove', type: 'offer', offer: draft.from.offer, quantity: 1, parentId: null });
    items.push({ orderItemActionType: 'add', type: 'offer', offer: draft.chosen.offer, quantity: 1, parentId: null });
  }
  for (const had of draft.from.addOns) {
    if (!addOns.some((r) => sameRef(r, had))) items.push({ orderItemActionType: 'remove', type: 'add_on', offer: had, quantity: 1, parentId: null });
  }
  for (const wanted of addOns) {
    if (!held(wanted)) items.push({ orderItemActionType: 'add', type: 'add_on', offer: wanted, quantity: 1, parentId: offer.id });
  }
  return { kind: draft.chosen?.kind ?? null, offer, addOns: addOns.map((r) => ({ ...r })), items };
}

// --- what it costs, and when -----------------------------------------------------------------------------------

export interface ChangeQuote {
  kind: ChangeKind;
  /** Epoch ms: `now` for an upgrade (it applies at submission), the current term's end for a downgrade. */
  effective: number;
  /** Minor units charged at submission: the upgrade's proration, 0 for a downgrade. */
  charge: number;
  currency: string;
  /** The term the subscription is in at `now` (renewals read as in subscription-term.ts). */
  term: TermBounds;
  /** The stored term bounds the quote was made from (a submission refuses a subscription whose bounds moved). */
  storedTerm: TermBounds;
  plan: ChangePlan;
}

/** The recurring prices among `refs` in `currency` (one-off add-ons and other currencies are not prorated). */
function recurring(refs: readonly OfferRef[], lookup: OfferLookup, currency: string): TermPrice[] {
  return refs.flatMap((r) => {
    const o = lookup(r);
    return o !== undefined && o.term !== null && o.currency === currency ? [{ price: o.price, term: o.term }] : [];
  });
}

/**
 * What submitting the draft at `now` does to `subscription`: when it takes effect and what it charges. Null while
 * no offer is chosen. An upgrade is charged for the rest of the current term (proration.ts); a downgrade costs
 * nothing now and takes effect at the term's end, or now if the term ended already.
 */
export function quoteChange(subscription: Subscription, draft: SubscriptionChangeDraft, lookup: OfferLookup, now: number): ChangeQuote | null {
  if (draft.chosen === null) return null;
  const current = fromOffer(draft, lookup);
  const plan = planChange(draft, lookup);
  // a subscription's offer always has a term; a one-off one is read as monthly rather than failing the quote
  const basis = current.term ?? { length: 1, unit: 'month' as const };
  const storedTerm = { start: subscription.termStart, end: subscription.termEnd };
  const term = currentTerm(storedTerm, basis, now);
  if (plan.kind === 'downgrade') {
    return { kind: 'downgrade', effective: Math.max(term.end, now), charge: 0, currency: current.currency, term, storedTerm, plan };
  }
  const charge = prorationCharge({
    before: recurring([draft.from.offer, ...draft.from.addOns], lookup, current.currency),
    after: recurring([plan.offer, ...plan.addOns], lookup, current.currency),
    basis,
    remaining: term.end - now,
    termLength: term.end - term.start,
  });
  return { kind: 'upgrade', effective: now, charge, currency: current.currency, term, storedTerm, plan };
}
