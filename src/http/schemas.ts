/**
 * Wire schemas shared by the routes: the envelope, the basket and the product view. Response schemas double as
 * fast serializers, so whatever is not declared here never leaves the service.
 */
import { Type, type Static, type TSchema } from 'typebox';

export const API_VERSIONS = ['2025-09-15', '2025-07-21'] as const;
export const DEFAULT_API_VERSION = API_VERSIONS[0];

/**
 * A reference to a named schema (registered with `app.addSchema`, see COMPONENT_SCHEMAS): the OpenAPI document
 * names it under `components.schemas`, and the type provider still sees its static type.
 */
export function ref<T extends TSchema>(schema: T) {
  const id = (schema as { $id?: unknown }).$id;
  if (typeof id !== 'string') throw new Error('ref() needs a schema with an $id');
  return Type.Unsafe<Static<T>>(Type.Ref(id));
}

export const ErrorSchema = Type.Object(
  {
    code: Type.Integer({ description: 'API error code (spec §5)' }),
    message: Type.String(),
    details: Type.Optional(Type.Unknown({ description: 'Symbolic name (e.g. CART_LIMIT_REACHED) or validation details' })),
  },
  { $id: 'Error', description: 'What went wrong: the code a client branches on, a message for people, details' },
);

export const ErrorEnvelope = Type.Object(
  {
    data: Type.Null(),
    nextToken: Type.Null(),
    error: ref(ErrorSchema),
  },
  { $id: 'ErrorEnvelope', description: 'The envelope of every error answer' },
);

/** The envelope of a successful answer: `data` holds the result, `error` is null. */
export function envelope<T extends TSchema>(data: T, description?: string) {
  return Type.Object(
    {
      data,
      nextToken: Type.Union([Type.String(), Type.Null()]),
      error: Type.Null(),
    },
    description ? { description } : {},
  );
}

export const LineSchema = Type.Object(
  {
    productId: Type.String(),
    count: Type.Integer({ description: 'Units to order; in saved, the count kept for later' }),
    variant: Type.Optional(Type.String({ description: 'The product variant (e.g. the size)' })),
    mainProductIdentifier: Type.Optional(Type.String({ description: 'The identifier of the main product' })),
  },
  { $id: 'Line', description: 'A product of the cart or the saved list' },
);

export const CheckoutLineSchema = Type.Object(
  {
    productId: Type.String(),
    count: Type.Integer(),
    variant: Type.Optional(Type.String()),
    mainProductIdentifier: Type.Optional(Type.String()),
    stocked: Type.Union([Type.Integer(), Type.Null()], {
      description: 'Units reserved; below zero: the reservation failed; null: unlimited stock',
    }),
  },
  { $id: 'CheckoutLine', description: 'A product of the active checkout session' },
);

export const ProblemSchema = Type.Object(
  {
    productId: Type.String(),
    code: Type.Union(
      [
        Type.Literal('PRODUCT_GONE'),
        Type.Literal('NOT_FOR_SALE'),
        Type.Literal('PRICE_CHANGED'),
        Type.Literal('OUT_OF_STOCK'),
        Type.Literal('INSUFFICIENT_STOCK'),
      ],
      {
        description:
          'PRODUCT_GONE: no longer in the catalogue; NOT_FOR_SALE: the catalogue has no price for it; PRICE_CHANGED: the price ' +
          'differs from the one when the line was assigned; OUT_OF_STOCK: none available; INSUFFICIENT_STOCK: fewer available than the count',
      },
    ),
    list: Type.Union([Type.Literal('cart'), Type.Literal('saved')], { description: 'The list holding the line' }),
    available: Type.Optional(Type.Integer({ description: 'INSUFFICIENT_STOCK: units still available' })),
    addedPrice: Type.Optional(Type.Number({ description: 'PRICE_CHANGED: gross price when the line was assigned, major units' })),
    addedCurrency: Type.Optional(Type.String({ description: 'PRICE_CHANGED: currency of addedPrice' })),
    price: Type.Optional(Type.Number({ description: 'PRICE_CHANGED: gross price now, major units' })),
    currency: Type.Optional(Type.String({ description: 'PRICE_CHANGED: currency of price' })),
  },
  { $id: 'BasketProblem', description: 'What the catalogue says now about a line and the basket cannot honour' },
);

const basketFields = {
  expires: Type.String({ format: 'date-time' }),
  lastChanged: Type.String({ format: 'date-time' }),
  cart: Type.Array(ref(LineSchema), { description: 'Products to buy (at most 20 distinct)' }),
  saved: Type.Array(ref(LineSchema), { description: 'Products remembered for later' }),
  checkout: Type.Array(ref(CheckoutLineSchema), { description: 'Products in the active checkout session' }),
  problems: Type.Optional(
    Type.Array(ref(ProblemSchema), {
      description: 'Only on getBasket, only when there are any: per line, what the catalogue says now (as of at most PRODUCT_CACHE_TTL ago)',
    }),
  ),
};

export const BasketSchema = Type.Object(basketFields, {
  $id: 'Basket',
  description: "A user's shopping basket: cart, saved list and the active checkout",
});

export const MergeReportSchema = Type.Object(
  {
    strategy: Type.Union([Type.Literal('sum'), Type.Literal('max'), Type.Literal('replace')], { description: 'The strategy the merge applied' }),
    moved: Type.Integer({ description: 'Lines taken from the guest basket (cart and saved)' }),
    toSaved: Type.Array(Type.String(), { description: 'Guest cart products that went to the saved list: the cart was full (20)' }),
    alreadyMerged: Type.Boolean({ description: 'true when this guest basket had been merged into this account before (nothing changed now)' }),
  },
  { $id: 'MergeReport', description: 'What a guest merge did' },
);

export const MergedBasketSchema = Type.Object(
  { ...basketFields, merge: ref(MergeReportSchema) },
  { $id: 'MergedBasket', description: "The account's basket after a guest merge, and what the merge did" },
);

export const ProductInfoSchema = Type.Object(
  {
    productId: Type.String(),
    variant: Type.Union([Type.String(), Type.Null()]),
    mainProductIdentifier: Type.Union([Type.String(), Type.Null()]),
    name: Type.String(),
    brand: Type.Union([Type.String(), Type.Null()]),
    price: Type.Union([Type.Number(), Type.Null()], { description: 'Gross price in major units (29.99)' }),
    currency: Type.String(),
    currentStockCount: Type.Union([Type.Integer(), Type.Null()], { description: '0 or below: not available; null: unlimited' }),
    shopSource: Type.Union([Type.String(), Type.Null()]),
    slug: Type.Union([Type.String(), Type.Null()]),
    images: Type.Array(Type.String()),
  },
  { $id: 'ProductInfo', description: 'Product information from the partner catalogue' },
);

/**
 * The serializer of every error answer (the envelope, nothing else leaves). The OpenAPI document replaces these
 * catch-alls with each operation's statuses and codes (`x-errors`, src/http/openapi.ts).
 */
export const errorResponses = {
  '4xx': ref(ErrorEnvelope),
  '5xx': ref(ErrorEnvelope),
};

/** The named schemas shared by the routes; registered once with `app.addSchema`. */
export const SHARED_SCHEMAS: readonly TSchema[] = [
  ErrorSchema,
  ErrorEnvelope,
  LineSchema,
  CheckoutLineSchema,
  ProblemSchema,
  BasketSchema,
  MergeReportSchema,
  MergedBasketSchema,
  ProductInfoSchema,
];

export const UserIdSchema = Type.String({ minLength: 1, maxLength: 256, description: 'The platform specific user identifier' });

export const CommonQuery = {
  provider_id: Type.Optional(Type.String({ maxLength: 200, description: 'Provider attribution fallback' })),
};

export { isoSeconds } from '../domain/time.js';
