/**
 * The error catalogue of the device surface (spec §5). Domain code throws BasketError with a symbolic kind;
 * the HTTP layer turns it into the envelope using this table. Plain data, no framework.
 */
export const ERRORS = {
  AUTHORIZATION_HEADER_INVALID: { code: 2002, status: 401, message: 'Authorization header missing or invalid' },
  PRODUCT_NOT_IN_BASKET: { code: 2006, status: 404, message: 'Product is not in the basket' },
  CART_LIMIT_REACHED: { code: 2008, status: 422, message: 'The cart already holds the maximum number of products' },
  PRODUCT_NOT_FOUND: { code: 2012, status: 404, message: 'Product not found' },
  OUT_OF_STOCK: { code: 2013, status: 409, message: 'No product of the cart is in stock' },
  CHECKOUT_ALREADY_ACTIVE: { code: 2014, status: 409, message: 'A checkout is already active' },
  NO_ACTIVE_CHECKOUT: { code: 2015, status: 409, message: 'There is no active checkout' },
  CART_EMPTY: { code: 2016, status: 422, message: 'The cart is empty' },
  TRANSFER_TOKEN_INVALID: { code: 2017, status: 410, message: 'Transfer token unknown, used or expired' },
  TRANSFER_URL_INVALID: { code: 2018, status: 422, message: 'Transfer URL not allowed' },
  USER_MISMATCH: { code: 2019, status: 403, message: 'The token does not belong to this user' },
  GUEST_NOT_ALLOWED: { code: 2020, status: 403, message: 'Not available for guest users' },
  IDEMPOTENCY_KEY_REUSED: { code: 2021, status: 422, message: 'Idempotency key reused with a different request' },
  IDEMPOTENCY_IN_PROGRESS: { code: 409, status: 409, message: 'A request with this idempotency key is still running' },
  PAYMENT_PROVIDER_ERROR: { code: 2022, status: 502, message: 'The payment provider failed' },
  API_KEY_INVALID: { code: 2023, status: 401, message: 'API key missing or invalid' },
  TOO_MANY_REQUESTS: { code: 2025, status: 429, message: 'Too many requests' },
  PAYMENT_PROVIDER_NOT_SUPPORTED: { code: 2001, status: 422, message: 'Payment provider not enabled' },
  INTERNAL_SERVER_ERROR: { code: 3001, status: 500, message: 'Internal server error' },
  REQUEST_VALIDATION_ERROR: { code: 3002, status: 422, message: 'Request validation failed' },
  SERVICE_UNAVAILABLE: { code: 3005, status: 503, message: 'Service temporarily unavailable' },
  PAYLOAD_TOO_LARGE: { code: 3006, status: 413, message: 'Request body too large' },
  UNSUPPORTED_MEDIA_TYPE: { code: 3007, status: 415, message: 'Unsupported content type' },
  BAD_REQUEST: { code: 400, status: 400, message: 'Bad request' },
  NOT_FOUND: { code: 404, status: 404, message: 'Route not found' },
  METHOD_NOT_ALLOWED: { code: 405, status: 405, message: 'Method not allowed' },
  VERSION_NOT_ACCEPTABLE: { code: 406, status: 406, message: 'API version not supported' },
  BASKET_LOCKED: { code: 423, status: 423, message: 'The basket is locked by an active checkout' },
  ORDER_NOT_FOUND: { code: 404, status: 404, message: 'Order not found' },
  // the shop's admin routes (offers, subscriptions): outside the device spec's table, so the code is the status
  OFFER_NOT_FOUND: { code: 404, status: 404, message: 'Offer not found' },
  SUBSCRIPTION_NOT_FOUND: { code: 404, status: 404, message: 'Subscription not found' },
  OFFER_VERSION_CONFLICT: { code: 409, status: 409, message: 'Offer version already loaded with other content; load a new version' },
  SUBSCRIPTION_NAME_CONFLICT: { code: 409, status: 409, message: 'Subscription name already used by another subscription' },
} as const;

export type ErrorKind = keyof typeof ERRORS;

export class BasketError extends Error {
  readonly kind: ErrorKind;
  readonly details: unknown;

  constructor(kind: ErrorKind, message?: string, details?: unknown) {
    super(message ?? ERRORS[kind].message);
    this.name = 'BasketError';
    this.kind = kind;
    // `details` defaults to the symbolic name, as the spec asks
    this.details = details === undefined ? kind : details;
  }
}

export function isBasketError(err: unknown): err is BasketError {
  return err instanceof BasketError;
}
