/**
 * Redis adapter of the Store interface (ioredis), for a single Redis or a Redis Cluster, composed of one module per
 * concern.
 *
 * Atomicity: each multi-key script touches one hash slot only. Operations that span slots (a reservation over
 * several products; an order plus its payment-reference index; a record plus its expiry index) are sequences of
 * single-slot scripts, each idempotent and ordered so that a crash in between leaves nothing a reader would
 * trust: indexes are written first and verified on read.
 *
 *   connection.ts     the clients, cmd()/script(), the mapping of connection failures to StoreUnavailableError
 *   keys.ts           the key layout          schema.ts  its version        scripts/  the Lua scripts, per concern
 *   notifications.ts  the subscription that reports other processes' basket writes
 *   baskets.ts, catalogue.ts, reservations.ts, transfers.ts, orders.ts, outbox.ts, idempotency.ts, expiry.ts,
 *   comfort.ts        one concern each
 */
import { parseRedisUrl } from './url.js';
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import type { Product, ProductInput } from '../../domain/catalogue.js';
import type {
  BasketChangeListener,
  BasketKey,
  BasketUpdater,
  ClaimOptions,
  ComfortSettings,
  EventInput,
  EventPage,
  FunnelGroup,
  FunnelQuery,
  IdempotencyBegin,
  Order,
  OrderPage,
  OutboxInput,
  OutboxMessage,
  OutboxStats,
  ReservationState,
  ReservedLine,
  ReserveLine,
  Store,
  StoredBasket,
  StoredResponse,
  TransferRecord,
} from '../store.js';
import { RedisBaskets } from './baskets.js';
import { RedisCatalogue } from './catalogue.js';
import { RedisComfort } from './comfort.js';
import { mapError, RedisConnection, type Client } from './connection.js';
import { RedisEvents } from './events.js';
import { RedisExpiry } from './expiry.js';
import { RedisIdempotency } from './idempotency.js';
import { RedisNotifications } from './notifications.js';
import { RedisOrders } from './orders.js';
import { RedisOutbox } from './outbox.js';
import { RedisReservations } from './reservations.js';
import { checkLayout } from './schema.js';
import { RedisTransfers } from './transfers.js';

export interface RedisStoreOptions {
  /** Prefix of every key and of the notification channel. Default: the `prefix` URL parameter, else `basket:`. */
  prefix?: string;
  /** Upper bound for one command. Default 5000 ms. */
  commandTimeoutMs?: number;
  /** Upper bound for connecting. Default 5000 ms. */
  connectTimeoutMs?: number;
}

/** Each method hands the call to the module of its concern. */
class RedisStore implements Store {
  readonly kind = 'redis' as const;
  private readonly conn: RedisConnection;
  private readonly notifications: RedisNotifications;
  private readonly baskets: RedisBaskets;
  private readonly catalogue: RedisCatalogue;
  private readonly reservations: RedisReservations;
  private readonly transfers: RedisTransfers;
  private readonly orders: RedisOrders;
  private readonly outbox: RedisOutbox;
  private readonly idempotency: RedisIdempotency;
  private readonly expiry: RedisExpiry;
  private readonly comfort: RedisComfort;
  private readonly events: RedisEvents;

  constructor(client: Client, subscriber: Client, prefix: string) {
    const conn = (this.conn = new RedisConnection(client, subscriber, prefix));
    this.notifications = new RedisNotifications(conn);
    this.baskets = new RedisBaskets(conn, this.notifications);
    this.catalogue = new RedisCatalogue(conn);
    this.reservations = new RedisReservations(conn);
    this.transfers = new RedisTransfers(conn);
    this.orders = new RedisOrders(conn);
    this.outbox = new RedisOutbox(conn);
    this.idempotency = new RedisIdempotency(conn);
    this.expiry = new RedisExpiry(conn);
    this.comfort = new RedisComfort(conn);
    this.events = new RedisEvents(conn);
  }

  async init(): Promise<void> {
    await checkLayout(this.conn);
    await this.notifications.subscribe();
  }

  async close(): Promise<void> {
    const { conn } = this;
    if (conn.closed) return;
    conn.closed = true;
    await Promise.allSettled([conn.client.quit(), conn.subscriber.quit()]);
    conn.client.disconnect();
    conn.subscriber.disconnect();
  }

  async ping(): Promise<void> {
    await this.conn.cmd((c) => c.ping());
  }

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
  finishIdempotent(scope: string, key: string, response: StoredResponse): Promise<void> {
    return this.idempotency.finishIdempotent(scope, key, response);
  }
  abandonIdempotent(scope: string, key: string): Promise<void> {
    return this.idempotency.abandonIdempotent(scope, key);
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

const PREFIX = /^[^{}\s]{0,100}$/;

/**
 * Connects (single Redis or Cluster), checks the key-layout version and subscribes to change notifications.
 * Throws StoreUnavailableError when Redis cannot be reached.
 */
export async function openRedisStore(url: string, options: RedisStoreOptions = {}): Promise<Store> {
  const parsed = parseRedisUrl(url);
  const prefix = options.prefix ?? parsed.prefix ?? 'basket:';
  if (!PREFIX.test(prefix)) throw new Error('Redis key prefix must not contain braces or spaces');
  const common: RedisOptions = {
    username: parsed.username,
    password: parsed.password,
    ...(parsed.tls ? { tls: {} } : {}),
    connectTimeout: options.connectTimeoutMs ?? 5000,
    commandTimeout: options.commandTimeoutMs ?? 5000,
    // Fail fast: a request while Redis is down errors at once (503) instead of queueing.
    maxRetriesPerRequest: 1,
    lazyConnect: true,
  };
  let client: Client;
  let subscriber: Client;
  if (parsed.cluster) {
    const clusterOptions: ClusterOptions = {
      redisOptions: common,
      enableOfflineQueue: false,
      enableAutoPipelining: true,
      lazyConnect: true,
      clusterRetryStrategy: (times) => Math.min(100 * times, 2000),
      slotsRefreshTimeout: options.connectTimeoutMs ?? 5000,
    };
    client = new Cluster(parsed.nodes, clusterOptions);
    subscriber = new Cluster(parsed.nodes, { ...clusterOptions, enableAutoPipelining: false });
  } else {
    const node = parsed.nodes[0];
    if (node === undefined || parsed.nodes.length !== 1) throw new Error('redis:// takes one host; use redis-cluster:// for several');
    const single: RedisOptions = {
      ...common,
      host: node.host,
      port: node.port,
      db: parsed.db,
      enableOfflineQueue: false,
      retryStrategy: (times) => Math.min(100 * times, 2000),
    };
    client = new Redis({ ...single, enableAutoPipelining: true });
    subscriber = new Redis(single);
  }
  const store = new RedisStore(client, subscriber, prefix);
  try {
    await Promise.all([client.connect(), subscriber.connect()]);
    await store.init();
    return store;
  } catch (error) {
    await store.close();
    throw mapError(error);
  }
}
export { parseRedisUrl } from './url.js';
