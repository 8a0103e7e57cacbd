/**
 * The one storage seam. Every adapter (SQLite, PostgreSQL, Redis) implements this interface and passes the
 * same contract suite (test/store/contract.ts). Times are epoch milliseconds passed in by the caller, so that
 * tests control the clock and adapters never read it for decisions.
 */
import type { BasketState } from '../domain/basket.js';
import type { Product, ProductInput } from '../domain/catalogue.js';

export interface BasketKey {
  partnerId: string;
  userId: string;
}

/**
 * How long a settled reservation is kept: repeats of reserve/release/commit answer from it, and the checkout's
 * late parties (a repeated finish, a PSP webhook retried for days) read its final state.
 */
export const RESERVATION_RETENTION_MS = 30 * 86_400_000;

export interface StoredBasket {
  state: BasketState;
  /** Increases by one on every write; the compare-and-set token. */
  version: number;
}

/** What an update function decides: write a new state, or keep the stored one (no write). */
export type BasketChange<R> = { state: BasketState; result: R } | { keep: true; result: R };

/**
 * Pure and synchronous: may run more than once when a concurrent write wins, so it must not have side
 * effects. Throwing aborts the update without writing; the error reaches the caller unchanged.
 */
export type BasketUpdater<R> = (current: StoredBasket | null) => BasketChange<R>;

export interface ReserveLine {
  productId: string;
  count: number;
}

/** Outcome of reserving one line: units reserved, a negative number when not possible, null when unlimited. */
export interface ReservedLine {
  productId: string;
  stocked: number | null;
}

/** `returned`: committed, then its units were put back on stock (an order cancelled after its commit). */
export type ReservationState = 'reserved' | 'released' | 'committed' | 'returned';

export interface TransferRecord {
  partnerId: string;
  userId: string;
  /** Epoch ms after which the token is invalid. */
  expires: number;
  /** The URL the token was issued for, with `jaySource` but without `jayToken` (the store never holds the token). */
  url: string;
}

export type OrderStatus = 'pending_payment' | 'paid' | 'ordered' | 'cancelled';

export interface OrderLine {
  productId: string;
  count: number;
  /** Units reserved for this line (the charged count); negative or 0 when not charged; null = unlimited. */
  stocked: number | null;
  name: string;
  unitPrice: number;
  taxRateBp: number;
  lineTotal: number;
  lineTax: number;
}

export interface Order {
  orderNo: string;
  partnerId: string;
  userId: string;
  sessionId: string;
  status: OrderStatus;
  currency: string;
  /** Minor units. */
  fullPrice: number;
  fullTax: number;
  shippingCost: number;
  lines: OrderLine[];
  testMode: boolean;
  paymentProvider: string;
  /** Provider's payment reference (e.g. a Stripe PaymentIntent id); indexed for webhooks. */
  paymentRef: string | null;
  /** Provider-specific fields returned to the client. */
  payment: Record<string, unknown>;
  created: number;
  updated: number;
}

export interface OrderPage {
  orders: Order[];
  /** Opaque cursor for the next page, null when there is none. */
  next: string | null;
}

export interface OutboxInput {
  topic: string;
  /** Deduplication key within the topic: enqueueing the same (topic, key) twice keeps the first. */
  key: string;
  payload: unknown;
  /** Epoch ms before which the message is not handed out (delayed jobs, e.g. checkout expiry). */
  availableAt: number;
}

export interface OutboxMessage {
  id: string;
  topic: string;
  key: string;
  payload: unknown;
  /** Number of times the message was claimed, this claim included. */
  attempts: number;
}

export interface ClaimOptions {
  now: number;
  limit: number;
  /** How long the claim holds; after that another worker may claim the message again. */
  leaseMs: number;
  /** Identifies the claimer; complete/retry only act on the caller's own claim. */
  owner: string;
  topics?: readonly string[];
}

export interface StoredResponse {
  status: number;
  body: unknown;
}

export type IdempotencyBegin =
  | { state: 'new' }
  | { state: 'done'; response: StoredResponse }
  | { state: 'running' }
  | { state: 'mismatch' };

export interface ComfortSettings {
  customerId: string | null;
  paymentMethodId: string | null;
  oneClick: boolean;
}

export type BasketChangeListener = (key: BasketKey) => void;

export interface Store {
  readonly kind: 'sqlite' | 'postgres' | 'redis';

  /** Creates or migrates the schema; safe when several processes call it together. */
  init(): Promise<void>;
  close(): Promise<void>;
  /** Resolves when the store answers; rejects otherwise (readiness probe). */
  ping(): Promise<void>;

  // --- baskets -----------------------------------------------------------------------------------------------
  getBasket(key: BasketKey): Promise<StoredBasket | null>;
  /**
   * getBasket() without a promise, offered by a store whose reads never wait for I/O (SQLite, in process): the
   * hot GET answers in the turn its request arrived. Throws what getBasket() would reject with.
   */
  getBasketSync?(key: BasketKey): StoredBasket | null;
  /**
   * Reads the basket and its version, applies `fn`, and writes the new state only if the version is still the
   * one read (transaction, compare-and-set or script); on conflict it reads again and re-applies `fn`.
   * Returns `fn`'s result of the attempt that was committed.
   */
  updateBasket<R>(key: BasketKey, fn: BasketUpdater<R>): Promise<R>;
  /** Deletes up to `limit` baskets whose expiry is at or before `now` and that hold no checkout. */
  purgeExpiredBaskets(now: number, limit: number): Promise<number>;
  /** Called after every committed basket write (in this process, or in any process where the store can). */
  onBasketChange(listener: BasketChangeListener): () => void;

  // --- catalogue and stock -----------------------------------------------------------------------------------
  getProducts(partnerId: string, productIds: readonly string[]): Promise<Map<string, Product>>;
  hasCatalogue(partnerId: string): Promise<boolean>;
  /** Inserts or replaces products; `stock` sets the units on hand, reservations already held are kept. */
  upsertProducts(partnerId: string, products: readonly ProductInput[]): Promise<number>;
  /**
   * Reserves each line on its own, atomically: never more than the units available (stock - reserved).
   * A line that cannot be fully reserved reserves nothing and reports `-count`. Idempotent per reservation
   * id: a repeated call returns the first outcome and reserves nothing more.
   */
  reserveStock(partnerId: string, reservationId: string, lines: readonly ReserveLine[]): Promise<ReservedLine[]>;
  /** Returns the reserved units to stock. Idempotent; false when there was nothing (left) to release. */
  releaseReservation(partnerId: string, reservationId: string): Promise<boolean>;
  /** Turns reserved units into stock decrements. Idempotent; false when there was nothing (left) to commit. */
  commitReservation(partnerId: string, reservationId: string): Promise<boolean>;
  /**
   * Puts a committed reservation's units back on stock (an order whose payment never came). Idempotent; false
   * when the reservation is not committed (never was, or was returned already). Unlimited or deleted products
   * are left alone.
   */
  returnReservation(partnerId: string, reservationId: string): Promise<boolean>;
  getReservationState(partnerId: string, reservationId: string): Promise<ReservationState | null>;

  // --- transfer tokens (keyed by the token's hash, never the token) -----------------------------------------
  putTransfer(tokenHash: string, record: TransferRecord): Promise<void>;
  /** The record while it is unexpired and unused. */
  getTransfer(tokenHash: string, now: number): Promise<TransferRecord | null>;
  /** Atomically consumes the token: of concurrent callers exactly one gets the record. */
  takeTransfer(tokenHash: string, now: number): Promise<TransferRecord | null>;

  // --- orders --------------------------------------------------------------------------------------------------
  /** Inserts a new order; rejects if the order number exists. */
  createOrder(order: Order): Promise<void>;
  getOrder(partnerId: string, orderNo: string): Promise<Order | null>;
  getOrderByPaymentRef(provider: string, paymentRef: string): Promise<Order | null>;
  /** Atomic read-modify-write of one order; `fn` returning null keeps it unchanged. Null when not found. */
  updateOrder(partnerId: string, orderNo: string, fn: (order: Order) => Order | null): Promise<Order | null>;
  /** Newest first. */
  listOrders(partnerId: string, userId: string, limit: number, cursor: string | null): Promise<OrderPage>;

  // --- outbox / durable queue --------------------------------------------------------------------------------
  enqueue(messages: readonly OutboxInput[]): Promise<void>;
  /** Hands out messages that are available and not claimed (or whose claim expired); no message to two owners. */
  claim(options: ClaimOptions): Promise<OutboxMessage[]>;
  /** Removes the message if `owner` still holds its claim. */
  complete(id: string, owner: string): Promise<void>;
  /** Gives the message back for another try at `retryAt`, if `owner` still holds its claim. */
  retry(id: string, owner: string, retryAt: number, error: string): Promise<void>;

  // --- idempotency records -----------------------------------------------------------------------------------
  /**
   * Starts a keyed request. `new`: the caller runs it and must finish or abandon it. `done`: the stored
   * response. `running`: another caller holds it (its hold lapses after `leaseMs`). `mismatch`: the key was used
   * with another fingerprint. Records expire `ttlMs` after they begin.
   */
  beginIdempotent(scope: string, key: string, fingerprint: string, now: number, ttlMs: number, leaseMs: number): Promise<IdempotencyBegin>;
  finishIdempotent(scope: string, key: string, response: StoredResponse): Promise<void>;
  abandonIdempotent(scope: string, key: string): Promise<void>;
  /**
   * Deletes expired transfer tokens and idempotency records, and reservations released or committed at least
   * RESERVATION_RETENTION_MS before `now` (Redis lets its reservation keys expire that long after they were made);
   * returns how many went. A reservation still `reserved` is never purged: checkout expiry releases it first.
   */
  purgeExpired(now: number, limit: number): Promise<number>;

  // --- per-user settings -------------------------------------------------------------------------------------
  getComfort(key: BasketKey): Promise<ComfortSettings | null>;
  putComfort(key: BasketKey, settings: ComfortSettings): Promise<void>;
}

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
