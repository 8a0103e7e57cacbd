/** The errors a store raises on purpose, the same on every engine. */

/** Thrown by adapters when the backing server cannot be reached; the HTTP layer answers 503 `3005`. */
export class StoreUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreUnavailableError';
  }
}

/** A listOrders cursor that this store did not issue. */
export class CursorError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CursorError';
  }
}

/** createOrder with an order number that already exists for the partner. */
export class DuplicateOrderError extends Error {
  constructor(partnerId: string, orderNo: string) {
    super(`order ${orderNo} already exists for partner ${partnerId}`);
    this.name = 'DuplicateOrderError';
  }
}
