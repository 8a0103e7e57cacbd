/**
 * PostgreSQL adapter of the Store interface (node-postgres, a connection pool), composed of one module per concern.
 *
 *   connection.ts     the pool, q() and tx(), and the mapping of connection failures to StoreUnavailableError
 *   schema.ts         migrations, applied under an advisory lock
 *   notifications.ts  the LISTEN connection that reports other processes' basket writes
 *   baskets.ts, catalogue.ts, reservations.ts, transfers.ts, orders.ts, outbox.ts, idempotency.ts, expiry.ts,
 *   comfort.ts        one concern each: its statements and its methods
 */
import pg from 'pg';
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
import { PgBaskets } from './baskets.js';
import { PgCatalogue } from './catalogue.js';
import { PgComfort } from './comfort.js';
import { mapError, PgConnection, types } from './connection.js';
import { PgEvents } from './events.js';
import { PgExpiry } from './expiry.js';
import { PgIdempotency } from './idempotency.js';
import { PgNotifications } from './notifications.js';
import { PgOrders } from './orders.js';
import { PgOutbox } from './outbox.js';
import { PgReservations } from './reservations.js';
import { migrate } from './schema.js';
import { PgTransfers } from './transfers.js';

export { MIGRATIONS } from './schema.js';

export interface PostgresStoreOptions {
  /** Maximum connections of the pool (PG_POOL_SIZE). Default 10. */
  poolSize?: number;
  /** Schema holding the tables; created when missing. Default: the `schema` URL parameter, else `public`. */
  schema?: string;
  /** How long opening a connection to the server may take. Default 5000 ms. */
  connectTimeoutMs?: number;
  /**
   * How long a call may wait for a free connection of the pool: waiting one's turn under load, not a server that
   * hangs (whose statements time out and free their connections). Default: 5 × connectTimeoutMs.
   */
  poolWaitMs?: number;
  /**
   * Upper bound for one statement (STORE_TIMEOUT through openStore), on the server (statement_timeout) and, a
   * little later, in the client (query_timeout), which also ends a wait on a server that does not answer at all.
   * Default 15000 ms.
   */
  statementTimeoutMs?: number;
}

/**
 * How much later than the server's statement_timeout the client gives up: on a live server the statement is
 * cancelled there first and the connection stays usable; a frozen server never cancels it.
 */
function queryTimeout(statementTimeoutMs: number): number {
  return statementTimeoutMs + Math.min(250, statementTimeoutMs);
}

/** Each method hands the call to the module of its concern. */
class PostgresStore implements Store {
  readonly kind = 'postgres' as const;
  private readonly conn: PgConnection;
  private readonly notifications: PgNotifications;
  private readonly baskets: PgBaskets;
  private readonly catalogue: PgCatalogue;
  private readonly reservations: PgReservations;
  private readonly transfers: PgTransfers;
  private readonly orders: PgOrders;
  private readonly outbox: PgOutbox;
  private readonly idempotency: PgIdempotency;
  private readonly expiry: PgExpiry;
  private readonly comfort: PgComfort;
  private readonly events: PgEvents;
  private initDone: Promise<void> | null = null;

  constructor(pool: pg.Pool, schema: string, clientConfig: pg.ClientConfig) {
    const conn = (this.conn = new PgConnection(pool, schema, clientConfig));
    this.notifications = new PgNotifications(conn);
    this.baskets = new PgBaskets(conn, this.notifications);
    this.catalogue = new PgCatalogue(conn);
    this.reservations = new PgReservations(conn);
    this.transfers = new PgTransfers(conn);
    this.orders = new PgOrders(conn);
    this.outbox = new PgOutbox(conn);
    this.idempotency = new PgIdempotency(conn);
    this.expiry = new PgExpiry(conn);
    this.comfort = new PgComfort(conn);
    this.events = new PgEvents(conn);
  }

  init(): Promise<void> {
    // Concurrent init() calls of one store share the work; other processes serialise on the advisory lock.
    this.initDone ??= this.migrate().finally(() => {
      this.initDone = null;
    });
    return this.initDone;
  }

  private async migrate(): Promise<void> {
    await migrate(this.conn);
    await this.notifications.listen();
  }

  async close(): Promise<void> {
    if (this.conn.closed) return;
    this.conn.closed = true;
    const listener = this.notifications.detach();
    await Promise.allSettled([listener?.end(), this.conn.pool.end()]);
  }

  async ping(): Promise<void> {
    await this.conn.q('SELECT 1');
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

const SCHEMA_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

/**
 * Opens a pool on `url` (postgres://user:pass@host:port/db?schema=name), migrates the schema and starts listening
 * for change notifications. Throws StoreUnavailableError when the server cannot be reached.
 */
export async function openPostgresStore(url: string, options: PostgresStoreOptions = {}): Promise<Store> {
  const parsed = new URL(url);
  const schema = options.schema ?? parsed.searchParams.get('schema') ?? 'public';
  if (!SCHEMA_NAME.test(schema)) throw new Error(`PostgreSQL schema name ${JSON.stringify(schema)} is not a plain identifier`);
  parsed.searchParams.delete('schema');
  const clientConfig: pg.ClientConfig = {
    connectionString: parsed.toString(),
    connectionTimeoutMillis: options.connectTimeoutMs ?? 5000,
    // Every connection resolves table names in our schema; the server also bounds each statement.
    options: `-c search_path=${schema} -c statement_timeout=${options.statementTimeoutMs ?? 15_000}`,
    query_timeout: queryTimeout(options.statementTimeoutMs ?? 15_000),
    keepAlive: true,
    types,
  };
  // pg-pool applies its connectionTimeoutMillis to both the wait for a free connection and a new connection; the
  // pool's connections get their own (shorter) connect timeout through this class.
  const connectConfig = clientConfig;
  class PoolClient extends pg.Client {
    constructor(config?: pg.ClientConfig) {
      super({ ...config, connectionTimeoutMillis: connectConfig.connectionTimeoutMillis });
    }
  }
  const poolWaitMs = options.poolWaitMs ?? 5 * (options.connectTimeoutMs ?? 5000);
  const pool = new pg.Pool({ ...clientConfig, Client: PoolClient, connectionTimeoutMillis: poolWaitMs, max: options.poolSize ?? 10, idleTimeoutMillis: 30_000 });
  const store = new PostgresStore(pool, schema, clientConfig);
  try {
    await store.init();
    return store;
  } catch (error) {
    await store.close();
    throw mapError(error);
  }
}
