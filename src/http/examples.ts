/**
 * Request and response examples of the OpenAPI document, taken from the API's seed pages (/work/shared/seeds:
 * getBasket's basket, finish-active's `ordered`, the tracking header, `provider_id`) and completed where our
 * schemas are stricter (a checkout line carries `stocked`). Redocly's `no-invalid-media-type-examples` checks
 * them against the schemas in test/http/openapi.test.ts.
 */
import type { OpenApiExample } from './openapi.js';

const ok = (data: unknown) => ({ data, nextToken: null, error: null });

/** The basket of seed 002 (GET /baskets/users/{userId}). */
export const SEED_BASKET = {
  expires: '2025-06-29T08:12:34Z',
  lastChanged: '2025-06-04T12:34:56Z',
  cart: [
    { productId: 'prod-123', count: 2 },
    { productId: 'prod-456', count: 1 },
  ],
  saved: [{ productId: 'prod-789', count: 1 }],
  checkout: [],
};

export const BASKET_RESPONSE: Record<string, OpenApiExample> = {
  basket: { summary: 'A basket with two products in the cart and one saved', value: ok(SEED_BASKET) },
};

export const BASKET_IN_CHECKOUT_RESPONSE: Record<string, OpenApiExample> = {
  inCheckout: {
    summary: 'A basket whose cart is in the active checkout (stock reserved)',
    value: ok({
      ...SEED_BASKET,
      cart: [],
      checkout: [
        { productId: 'prod-123', count: 1, stocked: 1 },
        { productId: 'prod-456', count: 1, stocked: null },
      ],
    }),
  },
};

export const ASSIGN_REQUEST: Record<string, OpenApiExample> = {
  cart: { summary: 'Two units into the cart', value: { count: 2 } },
  saved: { summary: 'Into the saved list', value: { count: 0 } },
  remove: { summary: 'Removed from cart and saved list', value: { count: -1 } },
};

export const MERGE_REQUEST: Record<string, OpenApiExample> = {
  default: { summary: 'At login: the guest basket joins the account (max of both counts)', value: { guestToken: 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJndWVzdC0uLi4ifQ.c2ln' } },
  sum: { summary: 'Counts of a product in both baskets added up', value: { guestToken: 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJndWVzdC0uLi4ifQ.c2ln', strategy: 'sum' } },
};

export const UPDATE_REQUEST: Record<string, OpenApiExample> = {
  count: { summary: 'Three units', value: { count: 3 } },
  unchanged: { summary: 'Leaves the count as it is', value: { count: null } },
};

export const FINISH_REQUEST: Record<string, OpenApiExample> = {
  ordered: { summary: 'The checkout ended with an order: the products are ordered', value: { ordered: true } },
  aborted: { summary: 'The checkout was aborted: the products go back to the cart', value: { ordered: false } },
};

export const PRODUCT_DETAILS_REQUEST: Record<string, OpenApiExample> = {
  ids: { summary: 'Two product ids', value: ['prod-123', 'prod-456'] },
};

export const TRANSFER_REQUEST: Record<string, OpenApiExample> = {
  shop: { summary: 'Hand the basket to a web shop', value: { url: 'https://shop.example.com/cart' } },
};

export const TRANSFER_RESPONSE: Record<string, OpenApiExample> = {
  transfer: {
    summary: 'A transfer without QR code (qr=false)',
    value: ok({
      expires: '2025-06-04T12:35:56Z',
      jaySource: 'jay-basket',
      jayToken: 'tq3Jx0m1cK6bZyq8V1T6Yw',
      url: 'https://shop.example.com/cart?jaySource=jay-basket&jayToken=tq3Jx0m1cK6bZyq8V1T6Yw',
      qrCodeImageUrl: null,
      qrCodeImageBase64: null,
    }),
  },
};

export const GUEST_REQUEST: Record<string, OpenApiExample> = {
  empty: { summary: 'A guest with an empty basket', value: {} },
  products: {
    summary: 'A guest with two products in the cart and one saved',
    value: {
      products: [
        { productId: 'prod-123', count: 2 },
        { productId: 'prod-789', count: 0 },
      ],
    },
  },
};

export const GUEST_RESPONSE: Record<string, OpenApiExample> = {
  guest: {
    summary: 'Guest credentials and the basket',
    value: ok({
      userId: 'guest-6f1c2a9e4b7d4e0f',
      token: 'eyJhbGciOiJFUzI1NiIsImtpZCI6ImsxIn0.eyJzdWIiOiJndWVzdC02ZjFjMmE5ZTRiN2Q0ZTBmIn0.c2lnbmF0dXJl',
      expires: '2025-07-04T12:34:56Z',
      basket: SEED_BASKET,
    }),
  },
};
