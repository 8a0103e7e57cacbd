/**
 * The subscription's wire form (shop-api.md §4) ↔ the stored Subscription: ISO date-times ↔ epoch ms. Pure; the
 * check against the partner's offers (`subscriptionOfferProblem`) is given the offers the caller looked up.
 */
import type { Offer, OfferRef, Subscription } from './records.js';
import { dateTime, id, isoDateTime, list, object, ShopInputError, text, version } from './wire-fields.js';

export { ShopInputError };

export interface SubscriptionWire {
  id: string;
  name: string;
  customer: { email: string; firstName: string; lastName: string };
  offer: OfferRef;
  addOns: OfferRef[];
  termStart: string;
  termEnd: string;
  pendingChange: { offer: OfferRef; effective: string } | null;
}

const MAX_NAME = 200;
const MAX_EMAIL = 254;
/** Enough to catch a name in the email field; the shop, not this service, mails the customer. */
const EMAIL = /^[^\s@]+@[^\s@]+$/;

const REQUIRED = ['name', 'customer', 'offer', 'termStart', 'termEnd'] as const;
const OPTIONAL = ['addOns', 'pendingChange'] as const;

function ref(value: unknown, field: string): OfferRef {
  const r = object(value, field, ['id', 'version']);
  return { id: id(r.id, `${field}.id`), version: version(r.version, `${field}.version`) };
}

function customer(value: unknown): Subscription['customer'] {
  const c = object(value, 'customer', ['email', 'firstName', 'lastName']);
  const email = text(c.email, 'customer.email', MAX_EMAIL);
  if (!EMAIL.test(email)) throw new ShopInputError('customer.email', 'must be an email address');
  return { email, firstName: text(c.firstName, 'customer.firstName', MAX_NAME), lastName: text(c.lastName, 'customer.lastName', MAX_NAME) };
}

function addOns(value: unknown): OfferRef[] {
  const refs = list(value, 'addOns', ref);
  const seen = new Set<string>();
  for (const [i, r] of refs.entries()) {
    if (seen.has(r.id)) throw new ShopInputError(`addOns.${i}`, `names add-on ${r.id} twice`);
    seen.add(r.id);
  }
  return refs;
}

/**
 * A subscription of `partnerId` from its wire form. `pathId`: the id the URL names (PUT); the body's `id` may then be
 * left out and must equal it when given. Without `pathId` (an import line) the body's `id` is required.
 */
export function parseSubscription(value: unknown, partnerId: string, pathId?: string): Subscription {
  const s = object(value, '', pathId === undefined ? ['id', ...REQUIRED] : REQUIRED, pathId === undefined ? OPTIONAL : ['id', ...OPTIONAL]);
  const subscriptionId = s.id === undefined ? id(pathId, 'id') : id(s.id, 'id');
  if (pathId !== undefined && subscriptionId !== pathId) throw new ShopInputError('id', `must be the id of the URL (${pathId})`);
  const termStart = dateTime(s.termStart, 'termStart');
  const termEnd = dateTime(s.termEnd, 'termEnd');
  if (termEnd <= termStart) throw new ShopInputError('termEnd', 'must be after termStart');
  const offer = ref(s.offer, 'offer');
  let pendingChange: Subscription['pendingChange'] = null;
  if (s.pendingChange !== undefined && s.pendingChange !== null) {
    const p = object(s.pendingChange, 'pendingChange', ['offer', 'effective']);
    pendingChange = { offer: ref(p.offer, 'pendingChange.offer'), effective: dateTime(p.effective, 'pendingChange.effective') };
    if (pendingChange.offer.id === offer.id && pendingChange.offer.version === offer.version) {
      throw new ShopInputError('pendingChange.offer', 'must be another offer than the current one');
    }
  }
  return {
    id: subscriptionId,
    partnerId,
    name: text(s.name, 'name', MAX_NAME),
    customer: customer(s.customer),
    offer,
    addOns: s.addOns === undefined ? [] : addOns(s.addOns),
    termStart,
    termEnd,
    pendingChange,
  };
}

export function subscriptionWire(s: Subscription): SubscriptionWire {
  return {
    id: s.id,
    name: s.name,
    customer: s.customer,
    offer: s.offer,
    addOns: s.addOns,
    termStart: isoDateTime(s.termStart),
    termEnd: isoDateTime(s.termEnd),
    pendingChange: s.pendingChange === null ? null : { offer: s.pendingChange.offer, effective: isoDateTime(s.pendingChange.effective) },
  };
}

/** Every offer version the subscription names (current offer, add-ons, pending change), with the field naming it. */
export function subscriptionOfferRefs(s: Subscription): { field: string; ref: OfferRef }[] {
  return [
    { field: 'offer', ref: s.offer },
    ...s.addOns.map((ref, i) => ({ field: `addOns.${i}`, ref })),
    ...(s.pendingChange ? [{ field: 'pendingChange.offer', ref: s.pendingChange.offer }] : []),
  ];
}

/**
 * What keeps the subscription from being loaded given the partner's offers (`offer(ref)`: that exact version, or
 * undefined): each named version must exist, the current and pending offers must be subscription offers (type
 * `offer` with a term) and the add-ons add-ons. Null when it may be loaded.
 */
export function subscriptionOfferProblem(s: Subscription, offer: (ref: OfferRef) => Offer | undefined): ShopInputError | null {
  for (const { field, ref } of subscriptionOfferRefs(s)) {
    const found = offer(ref);
    if (!found) return new ShopInputError(field, `offer ${ref.id} version ${ref.version} does not exist`);
    if (field.startsWith('addOns.')) {
      if (found.type !== 'add_on') return new ShopInputError(field, `offer ${ref.id} is not an add-on`);
    } else if (found.type !== 'offer' || found.term === null) {
      return new ShopInputError(field, `offer ${ref.id} is not a subscription offer (type "offer" with a term)`);
    }
  }
  return null;
}
