/**
 * The one storage seam. Every adapter (SQLite, PostgreSQL, Redis) implements `Store` and passes the same contract
 * suite (test/store/contract.ts). `Store` is the union of one small interface per concern (interface/*.ts): the
 * composition root opens a whole store, and each service names only the concerns it uses (e.g.
 * `BasketStore & CatalogueStore`). The shop surface's storage is `store.shop` (interface/shop.ts), built by each engine on
 * the connection it already holds. Times are epoch milliseconds passed in by the caller, so that tests control the
 * clock and adapters never read it for decisions.
 */
import type { BasketStore } from './interface/baskets.js';
import type { CatalogueStore } from './interface/catalogue.js';
import type { ComfortStore } from './interface/comfort.js';
import type { EventStore } from './interface/events.js';
import type { ExpiryStore } from './interface/expiry.js';
import type { IdempotencyStore } from './interface/idempotency.js';
import type { StoreLifecycle } from './interface/lifecycle.js';
import type { OrderStore } from './interface/orders.js';
import type { OutboxStore } from './interface/outbox.js';
import type { ReservationStore } from './interface/reservations.js';
import type { ShopStoreHost } from './interface/shop.js';
import type { TransferStore } from './interface/transfers.js';

export type * from './interface/baskets.js';
export type * from './interface/catalogue.js';
export type * from './interface/comfort.js';
export type * from './interface/events.js';
export { EVENT_ACTIONS } from './interface/events.js';
export type * from './interface/expiry.js';
export type * from './interface/idempotency.js';
export type * from './interface/lifecycle.js';
export type * from './interface/orders.js';
export type * from './interface/outbox.js';
export type * from './interface/transfers.js';
export type * from './interface/shop.js';
export { OfferVersionConflictError, SubscriptionNameConflictError } from './interface/shop.js';
export { RESERVATION_RETENTION_MS, type ReservationState, type ReservedLine, type ReserveLine, type ReservationStore } from './interface/reservations.js';
export { CursorError, DuplicateOrderError, StoreUnavailableError } from './interface/errors.js';

export interface Store
  extends StoreLifecycle,
    BasketStore,
    CatalogueStore,
    ReservationStore,
    TransferStore,
    OrderStore,
    OutboxStore,
    IdempotencyStore,
    ExpiryStore,
    ComfortStore,
    EventStore,
    ShopStoreHost {}
