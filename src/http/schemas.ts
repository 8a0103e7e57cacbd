/**
 * Wire schemas shared by the routes: the envelope, the basket and the product view. Response schemas double as
 * fast serializers, so whatever is not declared here never leaves the service.
 */
import { Type, type TSchema } from 'typebox';

export const API_VERSIONS = ['2025-09-15', '2025-07-21'] as const;
export const DEFAULT_API_VERSION = API_VERSIONS[0];

export const ErrorSchema = Type.Object({
  code: Type.Integer({ description: 'API error code (spec §5)' }),
  message: Type.String(),
  details: Type.Optional(Type.Unknown({ description: 'Symbolic name (e.g. CART_LIMIT_REACHED) or validation details' })),
});

export const ErrorEnvelope = Type.Object(
  {
    data: Type.Null(),
    nextToken: Type.Null(),
    error: ErrorSchema,
  },
  { $id: undefined, description: 'Error envelope' },
);

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

export const LineSchema = Type.Object({
  productId: Type.String(),
  count: Type.Integer({ description: 'Units to order; in saved, the count kept for later' }),
  variant: Type.Optional(Type.String({ description: 'The product variant (e.g. the size)' })),
  mainProductIdentifier: Type.Optional(Type.String({ description: 'The identifier of the main product' })),
});

export const CheckoutLineSchema = Type.Object({
  productId: Type.String(),
  count: Type.Integer(),
  variant: Type.Optional(Type.String()),
  mainProductIdentifier: Type.Optional(Type.String()),
  stocked: Type.Union([Type.Integer(), Type.Null()], {
    description: 'Units reserved; below zero: the reservation failed; null: unlimited stock',
  }),
});

export const BasketSchema = Type.Object({
  expires: Type.String({ format: 'date-time', examples: ['2025-06-29T08:12:34Z'] }),
  lastChanged: Type.String({ format: 'date-time', examples: ['2025-06-04T12:34:56Z'] }),
  cart: Type.Array(LineSchema, { description: 'Products to buy (at most 20 distinct)' }),
  saved: Type.Array(LineSchema, { description: 'Products remembered for later' }),
  checkout: Type.Array(CheckoutLineSchema, { description: 'Products in the active checkout session' }),
});

export const ProductInfoSchema = Type.Object({
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
});

/** Error responses every authenticated route can give, for the OpenAPI document and for serialization. */
export const errorResponses = {
  '4xx': ErrorEnvelope,
  '5xx': ErrorEnvelope,
};

export const UserIdSchema = Type.String({ minLength: 1, maxLength: 256, description: 'The platform specific user identifier' });

export const CommonQuery = {
  provider_id: Type.Optional(Type.String({ maxLength: 200, description: 'Provider attribution fallback' })),
};

export { isoSeconds } from '../domain/time.js';
