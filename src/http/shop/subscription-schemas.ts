/**
 * Wire schemas and the view of subscription changes (shop-api.md §3.4–§3.6): SubscriptionCheckout with full offer
 * objects, money as decimals in major units with the currency, dates as ISO date-times.
 */
import { Type, type Static } from 'typebox';
import { toMajor } from '../../domain/money.js';
import { offerWire } from '../../domain/shop/offer-input.js';
import type { Offer } from '../../domain/shop/records.js';
import type { ChoiceAction } from '../../domain/shop/subscription-change.js';
import type { SubscriptionCheckout } from '../../service/shop/subscription-changes.js';

const Id = (description: string) => Type.String({ minLength: 1, maxLength: 128, description });

const Ref = Type.Object({ id: Id('Offer id'), version: Id('Offer version') }, { additionalProperties: false, description: 'An offer version' });

const Money = Type.Object(
  { amount: Type.Number({ description: 'Major units (19.99)' }), currency: Type.String({ description: 'ISO 4217' }) },
  { description: 'An amount with its currency' },
);

export const ShopOfferSchema = Type.Object(
  {
    id: Type.String(),
    version: Type.String(),
    name: Type.String(),
    path: Type.String(),
    type: Type.Union([Type.Literal('offer'), Type.Literal('add_on')]),
    price: Type.Number({ description: 'Major units, tax included, per term for a subscription offer' }),
    currency: Type.String(),
    taxRate: Type.Number({ description: 'Percent included in the price' }),
    term: Type.Union([Type.Object({ length: Type.Integer(), unit: Type.Union([Type.Literal('month'), Type.Literal('year')]) }), Type.Null()], {
      description: 'null: a one-off offer',
    }),
    products: Type.Array(Type.Object({ productCode: Type.String(), path: Type.String() })),
    upgrades: Type.Array(Type.String()),
    downgrades: Type.Array(Type.String()),
    crossSells: Type.Array(Type.String()),
  },
  { description: 'An offer version, in full' },
);

const ChangeItem = Type.Object(
  {
    orderItemActionType: Type.Union([Type.Literal('add'), Type.Literal('remove')]),
    type: Type.Union([Type.Literal('offer'), Type.Literal('add_on')]),
    offer: Ref,
    quantity: Type.Integer(),
    parentId: Type.Union([Type.String(), Type.Null()], { description: 'Added add-ons: the offer they belong to' }),
    name: Type.String(),
    price: Money,
  },
  { description: 'A line of the change: what is removed from the subscription and what is added' },
);

export const SubscriptionCheckoutSchema = Type.Object(
  {
    order: Type.Object({
      checkoutId: Type.String({ description: 'The basket of the change (`basket-<uuid>`); submit it with POST /api/order' }),
      external_id: Type.Union([Type.String(), Type.Null()]),
      order_type: Type.Literal('update_subscription'),
      forSubscription: Type.Object({ id: Type.String(), name: Type.String() }),
      orderItems: Type.Array(ChangeItem),
      effectiveDate: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], {
        description: 'When the chosen change takes effect: at submission for an upgrade (quoted as of now), the end of the term for a downgrade; null until an offer is chosen',
      }),
      proration: Type.Union([Money, Type.Null()], { description: 'Charged at submission: an upgrade pro rata for the rest of the term, 0 for a downgrade; null until an offer is chosen' }),
    }),
    forSubscriptionOffer: ShopOfferSchema,
    nextActions: Type.Object({
      upgrades: Type.Array(ShopOfferSchema),
      downgrades: Type.Array(ShopOfferSchema),
      crossSells: Type.Array(ShopOfferSchema),
      subscriptionAddOns: Type.Array(ShopOfferSchema, { description: "The subscription's add-ons, in the versions it holds" }),
    }),
    completed: Type.Boolean({ description: 'Whether the change was submitted' }),
  },
  { description: 'A subscription change (shop-api.md §3.4)' },
);
export type SubscriptionCheckoutWire = Static<typeof SubscriptionCheckoutSchema>;

const Tracking = Type.Object(
  { offers: Type.Optional(Type.Array(Type.String({ maxLength: 128 }), { maxItems: 50 })), campaign: Type.Optional(Type.String({ maxLength: 256 })), tag: Type.Optional(Type.String({ maxLength: 256 })) },
  { additionalProperties: Type.String({ maxLength: 1024 }), maxProperties: 30, description: 'Campaign tracking; further string fields are kept as given' },
);

export const StartChangeBody = Type.Object(
  {
    order: Type.Object(
      {
        order_type: Type.Literal('update_subscription'),
        forSubscription: Type.Union(
          [
            Type.Object({ id: Id('Subscription id') }, { additionalProperties: false }),
            Type.Object({ name: Type.String({ minLength: 1, maxLength: 200, description: 'Subscription name' }) }, { additionalProperties: false }),
          ],
          { description: 'The subscription, by id or by name' },
        ),
      },
      { additionalProperties: false },
    ),
    tracking: Type.Optional(Tracking),
  },
  { additionalProperties: false },
);
export type StartChangeBodyT = Static<typeof StartChangeBody>;

export const ChooseChangeBody = Type.Object(
  {
    orderItems: Type.Array(
      Type.Object(
        {
          orderItemActionType: Type.Union([Type.Literal('add'), Type.Literal('remove')]),
          offer: Ref,
          type: Type.Union([Type.Literal('offer'), Type.Literal('add_on')]),
          quantity: Type.Optional(Type.Integer({ minimum: 1, maximum: 99, description: 'A subscription holds one of each offer: 1' })),
          parentId: Type.Optional(Type.String({ maxLength: 128, description: 'Ignored: an add-on belongs to the subscription' })),
        },
        { additionalProperties: false },
      ),
      { maxItems: 50, description: 'One offer `add` at most; the remove of the current offer is generated' },
    ),
  },
  { additionalProperties: false },
);
export type ChooseChangeBodyT = Static<typeof ChooseChangeBody>;

export function choiceActions(body: ChooseChangeBodyT): ChoiceAction[] {
  return body.orderItems.map((i) => ({ orderItemActionType: i.orderItemActionType, offer: { id: i.offer.id, version: i.offer.version }, type: i.type, quantity: i.quantity, parentId: i.parentId }));
}

/** An offer as nextActions show it: the admin API's wire form (one mapping for both). */
export function shopOfferView(offer: Offer): Static<typeof ShopOfferSchema> {
  return offerWire(offer);
}

export function subscriptionCheckoutView(c: SubscriptionCheckout): SubscriptionCheckoutWire {
  const { basket, plan, outcome, offers } = c;
  const forSubscription = { id: c.subscription.id, name: c.subscription.name };
  return {
    order: {
      checkoutId: basket.id,
      external_id: basket.externalId,
      order_type: 'update_subscription',
      forSubscription,
      orderItems: plan.items.map((i) => {
        const o = offers.get(i.offer);
        return {
          orderItemActionType: i.orderItemActionType,
          type: i.type,
          offer: { id: i.offer.id, version: i.offer.version },
          quantity: i.quantity,
          parentId: i.parentId,
          name: o?.name ?? i.offer.id,
          price: o ? { amount: toMajor(o.price, o.currency), currency: o.currency } : { amount: 0, currency: c.current.currency },
        };
      }),
      effectiveDate: outcome ? new Date(outcome.effective).toISOString() : null,
      proration: outcome ? { amount: toMajor(outcome.charge, outcome.currency), currency: outcome.currency } : null,
    },
    forSubscriptionOffer: shopOfferView(c.current),
    nextActions: {
      upgrades: c.next.upgrades.map(shopOfferView),
      downgrades: c.next.downgrades.map(shopOfferView),
      crossSells: c.next.crossSells.map(shopOfferView),
      subscriptionAddOns: c.next.subscriptionAddOns.map(shopOfferView),
    },
    completed: basket.status === 'completed',
  };
}
