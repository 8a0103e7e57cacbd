/**
 * What every engine's store does alike: hand each call to the module of its concern. An engine's `index.ts`
 * builds its concern modules on its connection and extends this class with what is its own (kind, init, close,
 * ping, and SQLite's synchronous basket read). Plain methods, no Proxy: the basket calls are the hot path.
 */
import type { Product, ProductInput } from '../../domain/catalogue.js';
import type {
  BasketChangeListener,
  BasketKey,
  BasketStore,
  BasketUpdater,
  CatalogueStore,
  ClaimOptions,
  ComfortSettings,
  ComfortStore,
  EventInput,
  EventPage,
  EventStore,
  ExpiryStore,
  FunnelGroup,
  FunnelQuery,
  IdempotencyBegin,
  IdempotencyStore,
  Order,
  OrderPage,
  OrderStore,
  OutboxInput,
  OutboxMessage,
  OutboxStats,
  OutboxStore,
  ReservationState,
  ReservationStore,
  ReservedLine,
  ReserveLine,
  ShopStore,
  Store,
  StoredBasket,
  StoredResponse,
  TransferRecord,
  TransferStore,
} from '../store.js';

/** An engine's concern modules, one per concern interface. */
export interface StoreParts {
  baskets: BasketStore;
  catalogue: CatalogueStore;
  reservations: ReservationStore;
  transfers: TransferStore;
  orders: OrderStore;
  outbox: OutboxStore;
  idempotency: IdempotencyStore;
  expiry: ExpiryStore;
  comfort: ComfortStore;
  events: EventStore;
  /** The shop surface's store, reached as `store.shop` (not delegated method by method). */
  shop: ShopStore;
}

export abstract class ComposedStore<P extends StoreParts = StoreParts> implements Store {
  abstract readonly kind: Store['kind'];
  protected readonly baskets: P['baskets'];
  protected readonly catalogue: P['catalogue'];
  protected readonly reservations: P['reservations'];
  protected readonly transfers: P['transfers'];
  protected readonly orders: P['orders'];
  protected readonly outbox: P['outbox'];
  protected readonly idempotency: P['idempotency'];
  protected readonly expiry: P['expiry'];
  protected readonly comfort: P['comfort'];
  protected readonly events: P['events'];
  readonly shop: P['shop'];

  constructor(parts: P) {
    this.baskets = parts.baskets;
    this.catalogue = parts.catalogue;
    this.reservations = parts.reservations;
    this.transfers = parts.transfers;
    this.orders = parts.orders;
    this.outbox = parts.outbox;
    this.idempotency = parts.idempotency;
    this.expiry = parts.expiry;
    this.comfort = parts.comfort;
    this.events = parts.events;
    this.shop = parts.shop;
  }

  abstract init(): Promise<void>;
  abstract close(): Promise<void>;
  abstract ping(): Promise<void>;

  getBasket(key: BasketKey): Promise<StoredBasket | null> {
    return this.baskets.getBasket(key);
  }
  updateBasket<R>(key: BasketKey, fn: BasketUpdater<R>): Promise<R> {
    return this.baskets.updateBasket(key, fn);
  }
  purgeExpiredBaskets(now: number, limit: number): Promise<number> {
    return this.baskets.purgeExpiredBaskets(now, limit);
  }
  onBasketChange(listener: BasketChangeListener): () => void {
    return this.baskets.onBasketChange(listener);
  }

  getProducts(partnerId: string, productIds: readonly string[]): Promise<Map<string, Product>> {
    return this.catalogue.getProducts(partnerId, productIds);
  }
  hasCatalogue(partnerId: string): Promise<boolean> {
    return this.catalogue.hasCatalogue(partnerId);
  }
  upsertProducts(partnerId: string, products: readonly ProductInput[]): Promise<number> {
    return this.catalogue.upsertProducts(partnerId, products);
  }

  reserveStock(partnerId: string, reservationId: string, lines: readonly ReserveLine[]): Promise<ReservedLine[]> {
    return this.reservations.reserveStock(partnerId, reservationId, lines);
  }
  releaseReservation(partnerId: string, reservationId: string): Promise<boolean> {
    return this.reservations.releaseReservation(partnerId, reservationId);
  }
  commitReservation(partnerId: string, reservationId: string): Promise<boolean> {
    return this.reservations.commitReservation(partnerId, reservationId);
  }
  returnReservation(partnerId: string, reservationId: string): Promise<boolean> {
    return this.reservations.returnReservation(partnerId, reservationId);
  }
  getReservationState(partnerId: string, reservationId: string): Promise<ReservationState | null> {
    return this.reservations.getReservationState(partnerId, reservationId);
  }

  putTransfer(tokenHash: string, record: TransferRecord): Promise<void> {
    return this.transfers.putTransfer(tokenHash, record);
  }
  getTransfer(tokenHash: string, now: number): Promise<TransferRecord | null> {
    return this.transfers.getTransfer(tokenHash, now);
  }
  takeTransfer(tokenHash: string, now: number): Promise<TransferRecord | null> {
    return this.transfers.takeTransfer(tokenHash, now);
  }

  createOrder(order: Order): Promise<void> {
    return this.orders.createOrder(order);
  }
  getOrder(partnerId: string, orderNo: string): Promise<Order | null> {
    return this.orders.getOrder(partnerId, orderNo);
  }
  getOrderByPaymentRef(provider: string, paymentRef: string): Promise<Order | null> {
    return this.orders.getOrderByPaymentRef(provider, paymentRef);
  }
  updateOrder(partnerId: string, orderNo: string, fn: (order: Order) => Order | null): Promise<Order | null> {
    return this.orders.updateOrder(partnerId, orderNo, fn);
  }
  listOrders(partnerId: string, userId: string, limit: number, cursor: string | null): Promise<OrderPage> {
    return this.orders.listOrders(partnerId, userId, limit, cursor);
  }

  enqueue(messages: readonly OutboxInput[]): Promise<void> {
    return this.outbox.enqueue(messages);
  }
  claim(options: ClaimOptions): Promise<OutboxMessage[]> {
    return this.outbox.claim(options);
  }
  complete(id: string, owner: string): Promise<void> {
    return this.outbox.complete(id, owner);
  }
  retry(id: string, owner: string, retryAt: number, error: string): Promise<void> {
    return this.outbox.retry(id, owner, retryAt, error);
  }
  outboxStats(now: number): Promise<OutboxStats> {
    return this.outbox.outboxStats(now);
  }

  beginIdempotent(scope: string, key: string, fingerprint: string, now: number, ttlMs: number, leaseMs: number): Promise<IdempotencyBegin> {
    return this.idempotency.beginIdempotent(scope, key, fingerprint, now, ttlMs, leaseMs);
  }
  finishIdempotent(scope: string, key: string, holder: string, response: StoredResponse): Promise<boolean> {
    return this.idempotency.finishIdempotent(scope, key, holder, response);
  }
  abandonIdempotent(scope: string, key: string, holder: string): Promise<boolean> {
    return this.idempotency.abandonIdempotent(scope, key, holder);
  }

  purgeExpired(now: number, limit: number): Promise<number> {
    return this.expiry.purgeExpired(now, limit);
  }

  getComfort(key: BasketKey): Promise<ComfortSettings | null> {
    return this.comfort.getComfort(key);
  }
  putComfort(key: BasketKey, settings: ComfortSettings): Promise<void> {
    return this.comfort.putComfort(key, settings);
  }

  appendEvents(events: readonly EventInput[]): Promise<void> {
    return this.events.appendEvents(events);
  }
  listEvents(partnerId: string, after: string | null, limit: number): Promise<EventPage> {
    return this.events.listEvents(partnerId, after, limit);
  }
  eventFunnel(query: FunnelQuery): Promise<FunnelGroup[]> {
    return this.events.eventFunnel(query);
  }
  purgeEvents(before: number, limit: number): Promise<number> {
    return this.events.purgeEvents(before, limit);
  }
}
