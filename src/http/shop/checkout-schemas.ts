/**
 * Wire schemas and views of the shop's checkout operations (shop-api.md §3.1–§3.3, §3.7): money as decimals in
 * major units with the currency, times as ISO date-times with milliseconds (an abandoned basket's `created` can be
 * given back as `createdAfter`).
 */
import { Type, type Static } from 'typebox';
import { toMajor } from '../../domain/money.js';
import { lineAmount, shopTotals } from '../../domain/shop/items.js';
import type { ShopBasket, ShopItem, ShopOrder } from '../../domain/shop/records.js';
import type { FetchedOffers } from '../../service/shop/offers.js';
import { awaitsWebhook } from '../../service/shop/orders.js';

const Id = (description: string) => Type.String({ minLength: 1, maxLength: 128, description });
const Text = (maxLength: number, description?: string) => Type.String({ maxLength, ...(description ? { description } : {}) });

export const OfferRefSchema = Type.Object(
  { id: Id('Offer id'), version: Id('Offer version') },
  { additionalProperties: false, description: 'An offer version' },
);

export const MoneySchema = Type.Object(
  { amount: Type.Number({ description: 'Major units (19.99)' }), currency: Type.Union([Type.String(), Type.Null()], { description: 'ISO 4217; null for an empty basket' }) },
  { description: 'An amount with its currency' },
);

const CustomerDetails = Type.Object(
  {
    email: Type.Optional(Text(254)),
    firstName: Type.Optional(Text(256)),
    lastName: Type.Optional(Text(256)),
    companyName: Type.Optional(Text(256)),
  },
  { additionalProperties: Text(1024), maxProperties: 30, description: 'The customer; further string fields are kept as given' },
);

const Scalar = Type.Union([Type.String({ maxLength: 4096 }), Type.Number(), Type.Boolean(), Type.Null()]);
const CustomFields = Type.Record(Type.String({ maxLength: 128 }), Scalar, { maxProperties: 50, description: 'Kept as given' });

const Tracking = Type.Object(
  {
    offers: Type.Optional(Type.Array(Text(128), { maxItems: 50 })),
    campaign: Type.Optional(Text(256)),
    tag: Type.Optional(Text(256)),
  },
  { additionalProperties: Text(1024), maxProperties: 30, description: 'Campaign tracking; further string fields are kept as given' },
);

const Quantity = Type.Integer({ minimum: 1, maximum: 99, description: '1 to 99' });

const InitiateItem = Type.Object(
  {
    offer: OfferRefSchema,
    quantity: Quantity,
    type: Type.Union([Type.Literal('offer'), Type.Literal('add_on')]),
    parentId: Type.Optional(Id('Add-ons: the offer item they belong to (its offer id, or its item id)')),
  },
  { additionalProperties: false },
);

export const InitiateBody = Type.Object(
  {
    order: Type.Object(
      {
        orderItems: Type.Optional(Type.Array(InitiateItem, { maxItems: 100, description: 'May be empty (or absent) when a jayToken brings the items' })),
        external_id: Type.Optional(Id('The shop\'s own reference: an open basket with it gets the new content')),
        tracking: Type.Optional(Tracking),
        country: Type.Optional(Type.String({ pattern: '^[A-Z]{2}$', description: 'ISO 3166-1 alpha-2' })),
        source: Type.Optional(Text(256)),
        order_type: Type.Optional(Type.Literal('new')),
        customerDetails: Type.Optional(CustomerDetails),
        customFields: Type.Optional(CustomFields),
        jayToken: Type.Optional(Type.String({ minLength: 1, maxLength: 512, description: 'A device transfer token (TV to shop), redeemed once' })),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);
export type InitiateBodyT = Static<typeof InitiateBody>;

export const InitiateResponse = Type.Object({ id: Type.String({ description: '`basket-<uuid>`' }) }, {});

const UpdateItem = Type.Object(
  {
    orderItemActionType: Type.Union([Type.Literal('add'), Type.Literal('remove'), Type.Literal('quantity')]),
    offer: Type.Optional(OfferRefSchema),
    type: Type.Optional(Type.Union([Type.Literal('offer'), Type.Literal('add_on')], { description: 'add: default offer' })),
    quantity: Type.Optional(Quantity),
    id: Type.Optional(Id('remove, quantity: the order item')),
    parentId: Type.Optional(Id('add of an add-on: the offer item it belongs to')),
  },
  { additionalProperties: false },
);

export const UpdateBody = Type.Object(
  { orderItems: Type.Array(UpdateItem, { minItems: 1, maxItems: 100 }) },
  { additionalProperties: false },
);
export type UpdateBodyT = Static<typeof UpdateBody>;

export const OrderItemSchema = Type.Object(
  {
    id: Type.String(),
    type: Type.Union([Type.Literal('offer'), Type.Literal('add_on'), Type.Literal('product')]),
    offer: Type.Union([OfferRefSchema, Type.Null()]),
    productId: Type.Union([Type.String(), Type.Null()], { description: 'product items (from a TV basket)' }),
    parentId: Type.Union([Type.String(), Type.Null()]),
    name: Type.String(),
    quantity: Type.Integer(),
    price: MoneySchema,
    total: MoneySchema,
  },
  { description: 'An item of a checkout basket: `price` per unit, `total` = price × quantity' },
);

export const UpdateResponse = Type.Object(
  {
    id: Type.String(),
    order: Type.Object({
      orderItems: Type.Array(OrderItemSchema),
      total: MoneySchema,
      expiresAt: Type.String({ format: 'date-time' }),
    }),
  },
  { description: 'The basket after the update' },
);

export const OrderBody = Type.Object(
  {
    checkoutId: Type.String({ minLength: 1, maxLength: 256, description: 'The basket id' }),
    customerDetails: Type.Optional(CustomerDetails),
    billingDetails: Type.Optional(Type.Record(Type.String({ maxLength: 128 }), Scalar, { maxProperties: 30 })),
    payment: Type.Optional(
      Type.Object({ testMode: Type.Optional(Type.Boolean({ description: 'As the device checkout\'s testMode' })) }, { additionalProperties: false }),
    ),
  },
  { additionalProperties: false },
);
export type OrderBodyT = Static<typeof OrderBody>;

export const OrderResponse = Type.Object(
  {
    id: Type.String({ description: '`order-<32 hex>`' }),
    order_reference: Type.Union([Type.String(), Type.Null()]),
    status: Type.Union([Type.Literal('pending'), Type.Literal('completed'), Type.Literal('failed')]),
    external_id: Type.Union([Type.String(), Type.Null()]),
    subscriptionReference: Type.Union([Type.String(), Type.Null()]),
    payment: Type.Optional(
      Type.Object(
        { provider: Type.String({ description: 'The payment provider, e.g. `stripe`' }) },
        {
          additionalProperties: true,
          description:
            'Only while the order is `pending` on a provider that confirms payments by webhook (Stripe): what the shop ' +
            'confirms the payment with (Stripe: `paymentIntentId`, `clientSecret`, `publishableKey`, `status`). The order ' +
            'completes (or fails, the basket open again) when the provider\'s webhook comes.',
        },
      ),
    ),
  },
  { description: 'The order of a submitted basket (the same for every submit of that basket)' },
);

export const AbandonedQuery = Type.Object(
  {
    createdAfter: Type.String({ maxLength: 40, description: 'ISO date-time: baskets created strictly after it' }),
    limit: Type.Optional(Type.String({ pattern: '^([1-9][0-9]?|100)$', description: '1 to 100, default 50' })),
    queryMore: Type.Optional(Type.String({ minLength: 1, maxLength: 1024, description: 'The cursor of the previous page' })),
  },
  { additionalProperties: false },
);

const AbandonedItem = Type.Object(
  {
    id: Type.String(),
    created: Type.String({ format: 'date-time' }),
    customerDetails: Type.Object({
      email: Type.Union([Type.String(), Type.Null()]),
      firstName: Type.Union([Type.String(), Type.Null()]),
      lastName: Type.Union([Type.String(), Type.Null()]),
      companyName: Type.Union([Type.String(), Type.Null()]),
    }),
    orderItems: Type.Array(
      Type.Object({
        name: Type.String(),
        path: Type.Union([Type.String(), Type.Null()]),
        products: Type.Array(Type.Object({ path: Type.Union([Type.String(), Type.Null()]), productCode: Type.String() })),
      }),
    ),
    customFields: Type.Record(Type.String(), Type.Unknown()),
    tracking: Type.Object({ offers: Type.Array(Type.String()), campaign: Type.Union([Type.String(), Type.Null()]), tag: Type.Union([Type.String(), Type.Null()]) }),
    identities: Type.Array(Type.Record(Type.String(), Type.Unknown())),
    entry: Type.Union([Type.String(), Type.Null()]),
    completed: Type.Literal(false),
    recoveryLink: Type.String({ format: 'uri' }),
  },
  { description: 'An open, unexpired basket' },
);

export const AbandonedResponse = Type.Object(
  { items: Type.Array(AbandonedItem), queryMore: Type.Optional(Type.String({ description: 'Only while more remain' })) },
  {},
);

// --- views --------------------------------------------------------------------------------------------------------

const money = (minor: number, currency: string | null) => ({ amount: currency === null ? minor : toMajor(minor, currency), currency });
const isoMs = (ms: number) => new Date(ms).toISOString();

export function orderItemView(i: ShopItem) {
  return {
    id: i.id,
    type: i.type,
    offer: i.offer,
    productId: i.productId,
    parentId: i.parentId,
    name: i.name,
    quantity: i.quantity,
    price: money(i.unitPrice, i.currency),
    total: money(lineAmount(i), i.currency),
  };
}

export function basketView(b: ShopBasket) {
  const totals = shopTotals(b.items);
  return {
    id: b.id,
    order: { orderItems: b.items.map(orderItemView), total: money(totals.amount, totals.currency), expiresAt: isoMs(b.expires) },
  };
}

export function orderView(o: ShopOrder) {
  const text = (v: unknown) => (typeof v === 'string' ? v : null);
  return {
    id: o.id,
    order_reference: text(o.details.orderReference),
    status: o.status,
    external_id: o.externalId,
    subscriptionReference: text(o.details.subscriptionReference),
    // what the shop needs to let the customer pay; gone once the webhook decided
    ...(o.status === 'pending' && awaitsWebhook(o) ? { payment: { ...obj(o.details.payment), provider: o.paymentProvider! } } : {}),
  };
}

const obj = (v: unknown): Record<string, unknown> => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {});
const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);

export function abandonedView(b: ShopBasket, offers: FetchedOffers, recoveryLink: string) {
  const customer = obj(b.details.customerDetails);
  const tracking = obj(b.details.tracking);
  return {
    id: b.id,
    created: isoMs(b.created),
    customerDetails: { email: str(customer.email), firstName: str(customer.firstName), lastName: str(customer.lastName), companyName: str(customer.companyName) },
    orderItems: b.items.map((i) => {
      const offer = i.offer ? offers.get(i.offer) : undefined;
      if (offer) return { name: i.name, path: offer.path, products: offer.products.map((p) => ({ path: p.path, productCode: p.productCode })) };
      return { name: i.name, path: null, products: i.productId ? [{ path: null, productCode: i.productId }] : [] };
    }),
    customFields: obj(b.details.customFields),
    tracking: {
      offers: Array.isArray(tracking.offers) ? tracking.offers.filter((x): x is string => typeof x === 'string') : [],
      campaign: str(tracking.campaign),
      tag: str(tracking.tag),
    },
    identities: Array.isArray(b.details.identities) ? (b.details.identities as unknown[]).map(obj) : [],
    entry: str(b.details.entry) ?? str(b.details.source),
    completed: false as const,
    recoveryLink,
  };
}
