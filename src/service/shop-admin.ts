/**
 * Loading a partner's offers and subscriptions (shop-api.md §4), for the admin API, the CLI and the demo data.
 * What the store cannot judge is checked here, before anything is written: the same record twice in one load, and
 * a subscription's offers (each {id, version} it names must exist). Offers are immutable and never deleted, so a
 * version found here still exists when the subscription is written: no read-then-write race.
 */
import { danglingLinks, type OfferLinkWarning, sameOffer } from '../domain/shop/offer-input.js';
import type { Offer, OfferRef, Subscription } from '../domain/shop/records.js';
import { subscriptionOfferProblem, subscriptionOfferRefs } from '../domain/shop/subscription-input.js';
import { OfferVersionConflictError, SubscriptionNameConflictError, type ShopStore } from '../store/interface/shop.js';

/** A record of a load with the import line it came from (null: a single record, e.g. PUT). */
export interface Loading<T> {
  line: number | null;
  value: T;
}

/** What keeps a load from being written; nothing was. `line` null: the single record of a PUT. */
export interface LoadProblem {
  line: number | null;
  field: string;
  message: string;
}

export class ShopLoadError extends Error {
  constructor(readonly problems: readonly LoadProblem[]) {
    super(problems.map((p) => `${p.line === null ? '' : `line ${p.line}: `}${p.field} ${p.message}`).join('; '));
    this.name = 'ShopLoadError';
  }
}

/** A conflict with what is stored (409): an offer version held with other content, a subscription name in use. */
export class ShopLoadConflict extends Error {
  constructor(
    readonly kind: 'offer-version' | 'subscription-name',
    message: string,
  ) {
    super(message);
    this.name = 'ShopLoadConflict';
  }
}

const refKey = (r: OfferRef) => `${r.id}\u0000${r.version}`;
const lineOf = (line: number | null) => (line === null ? '' : ` (line ${line})`);
/** At most this many problems are reported at once (an import of a bad file would name every line). */
const MAX_PROBLEMS = 100;

export class ShopAdminService {
  constructor(private readonly shop: ShopStore) {}

  /**
   * Loads offers, all or nothing. A version already held with the same content is a no-op; with other content it
   * is a ShopLoadConflict. Links (upgrades, downgrades, cross-sells) to offers not loaded are kept and answered as
   * warnings.
   */
  async loadOffers(partnerId: string, offers: readonly Loading<Offer>[]): Promise<{ loaded: number; warnings: OfferLinkWarning[] }> {
    const first = new Map<string, Loading<Offer>>();
    const problems: LoadProblem[] = [];
    for (const o of offers) {
      const seen = first.get(refKey(o.value));
      if (!seen) first.set(refKey(o.value), o);
      else if (!sameOffer(seen.value, o.value)) {
        problems.push({ line: o.line, field: 'version', message: `offer ${o.value.id} version ${o.value.version} is given again with other content${lineOf(seen.line)}` });
      }
    }
    if (problems.length > 0) throw new ShopLoadError(problems.slice(0, MAX_PROBLEMS));
    const values = offers.map((o) => o.value);
    const inBatch = new Set(values.map((o) => o.id));
    const linked = [...new Set(values.flatMap((o) => [...o.upgrades, ...o.downgrades, ...o.crossSells]))].filter((id) => !inBatch.has(id));
    const loaded = new Set(linked.length === 0 ? [] : (await this.shop.getNewestOffers(partnerId, linked)).map((o) => o.id));
    try {
      await this.shop.putOffers(partnerId, values);
    } catch (err) {
      if (!(err instanceof OfferVersionConflictError)) throw err;
      const at = offers.find((o) => o.value.id === err.ref.id && o.value.version === err.ref.version);
      throw new ShopLoadConflict('offer-version', `offer ${err.ref.id} version ${err.ref.version}${lineOf(at?.line ?? null)} is already loaded with other content; load it as a new version`);
    }
    return { loaded: values.length, warnings: danglingLinks(values, (id) => loaded.has(id)) };
  }

  /** One version of an offer, or its newest when `version` is not given. */
  async getOffer(partnerId: string, id: string, version?: string): Promise<Offer | null> {
    if (version !== undefined) return this.shop.getOffer(partnerId, { id, version });
    return (await this.shop.getNewestOffers(partnerId, [id]))[0] ?? null;
  }

  /**
   * Creates or replaces subscriptions, all or nothing. Each must name offers that exist (its offer and pending
   * offer subscription offers, its add-ons add-ons); an id or a name twice in one load is refused; a name another
   * subscription of the partner has is a ShopLoadConflict.
   */
  async loadSubscriptions(partnerId: string, subscriptions: readonly Loading<Subscription>[]): Promise<number> {
    const problems = duplicateSubscriptions(subscriptions);
    const refs = new Map<string, OfferRef>();
    for (const s of subscriptions) for (const { ref } of subscriptionOfferRefs(s.value)) refs.set(refKey(ref), ref);
    const found = new Map<string, Offer>();
    await Promise.all(
      [...refs.values()].map(async (ref) => {
        const offer = await this.shop.getOffer(partnerId, ref);
        if (offer) found.set(refKey(ref), offer);
      }),
    );
    for (const s of subscriptions) {
      const problem = subscriptionOfferProblem(s.value, (ref) => found.get(refKey(ref)));
      if (problem) problems.push({ line: s.line, field: problem.field, message: problem.message });
    }
    if (problems.length > 0) throw new ShopLoadError(problems.sort((a, b) => (a.line ?? 0) - (b.line ?? 0)).slice(0, MAX_PROBLEMS));
    try {
      await this.shop.putSubscriptions(partnerId, subscriptions.map((s) => s.value));
    } catch (err) {
      if (!(err instanceof SubscriptionNameConflictError)) throw err;
      const at = subscriptions.find((s) => s.value.name === err.subscriptionName);
      throw new ShopLoadConflict('subscription-name', `subscription name ${JSON.stringify(err.subscriptionName)}${lineOf(at?.line ?? null)} is already used by another subscription`);
    }
    return subscriptions.length;
  }

  getSubscription(partnerId: string, id: string): Promise<Subscription | null> {
    return this.shop.getSubscription(partnerId, id);
  }
}

/** The same id, or the same name under two ids, twice in one load: which one is meant is not for us to guess. */
function duplicateSubscriptions(subscriptions: readonly Loading<Subscription>[]): LoadProblem[] {
  const problems: LoadProblem[] = [];
  const ids = new Map<string, number | null>();
  const names = new Map<string, number | null>();
  for (const { line, value } of subscriptions) {
    if (ids.has(value.id)) problems.push({ line, field: 'id', message: `subscription ${value.id} is given twice${lineOf(ids.get(value.id) ?? null)}` });
    else if (names.has(value.name)) problems.push({ line, field: 'name', message: `name ${JSON.stringify(value.name)} is given to two subscriptions${lineOf(names.get(value.name) ?? null)}` });
    ids.set(value.id, line);
    names.set(value.name, line);
  }
  return problems;
}
