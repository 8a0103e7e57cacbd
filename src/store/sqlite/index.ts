/**
 * SQLite adapter of the Store interface (better-sqlite3, synchronous driver), composed of one module per concern.
 *
 * Concurrency model: inside one process better-sqlite3 runs every statement synchronously, so calls never
 * interleave. Several processes may share the file: every read-modify-write runs in a `BEGIN IMMEDIATE`
 * transaction, which takes the file's write lock before reading, so processes serialize and no update is lost.
 * Every write is committed by the group commit (group-commit.ts), which never sleeps in SQLite's busy handler; the
 * hot reads share a read transaction per turn and baskets are cached parsed (connection.ts).
 *
 *   connection.ts    the connection, its shared read transaction, basket cache and error mapping
 *   group-commit.ts  the queue of writes and the IMMEDIATE transaction they share
 *   schema.ts        migrations and pragmas        checkpointer.ts  the WAL checkpoint thread
 *   baskets.ts, catalogue.ts, reservations.ts, transfers.ts, orders.ts, outbox.ts, idempotency.ts, expiry.ts,
 *   comfort.ts       one concern each: its statements and its methods
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { Product, ProductInput } from '../../domain/catalogue.js';
import {
  StoreUnavailableError,
  type BasketChangeListener,
  type BasketKey,
  type BasketUpdater,
  type ClaimOptions,
  type ComfortSettings,
  type EventInput,
  type EventPage,
  type FunnelGroup,
  type FunnelQuery,
  type IdempotencyBegin,
  type Order,
  type OrderPage,
  type OutboxInput,
  type OutboxMessage,
  type OutboxStats,
  type ReservationState,
  type ReservedLine,
  type ReserveLine,
  type Store,
  type StoredBasket,
  type StoredResponse,
  type TransferRecord,
} from '../store.js';
import { SqliteBaskets } from './baskets.js';
import { SqliteCatalogue } from './catalogue.js';
import { startCheckpointer, type Checkpointer } from './checkpointer.js';
import { SqliteComfort } from './comfort.js';
import { isBusy, SqliteConnection } from './connection.js';
import { SqliteEvents } from './events.js';
import { SqliteExpiry } from './expiry.js';
import { GroupCommit } from './group-commit.js';
import { SqliteIdempotency } from './idempotency.js';
import { SqliteOrders } from './orders.js';
import { SqliteOutbox } from './outbox.js';
import { SqliteReservations } from './reservations.js';
import { configure, migrate } from './schema.js';
import { SqliteTransfers } from './transfers.js';

export { expiresHour, MIGRATIONS } from './schema.js';

export interface SqliteStoreOptions {
  /** NORMAL (default) survives process crashes; FULL also survives power loss, at a cost per commit. */
  synchronous?: 'normal' | 'full';
  /** How long a write waits for another connection's write lock before failing (default 5000 ms). */
  lockTimeoutMs?: number;
}

const BUSY_TIMEOUT_MS = 5000;

/** Each method hands the call to the module of its concern. */
class SqliteStore implements Store {
  readonly kind = 'sqlite' as const;
  private readonly conn: SqliteConnection;
  private readonly writes: GroupCommit;
  private readonly baskets: SqliteBaskets;
  private readonly catalogue: SqliteCatalogue;
  private readonly reservations: SqliteReservations;
  private readonly transfers: SqliteTransfers;
  private readonly orders: SqliteOrders;
  private readonly outbox: SqliteOutbox;
  private readonly idempotency: SqliteIdempotency;
  private readonly expiry: SqliteExpiry;
  private readonly comfort: SqliteComfort;
  private readonly events: SqliteEvents;
  /** The WAL checkpoint thread of a file database (none in memory); set once the store is open. */
  checkpointer: Checkpointer | null = null;

  constructor(db: Database.Database, lockTimeoutMs: number) {
    const conn = (this.conn = new SqliteConnection(db, lockTimeoutMs));
    const writes = (this.writes = new GroupCommit(conn));
    this.baskets = new SqliteBaskets(conn, writes);
    this.catalogue = new SqliteCatalogue(conn, writes);
    this.reservations = new SqliteReservations(conn, writes);
    this.transfers = new SqliteTransfers(conn, writes);
    this.orders = new SqliteOrders(conn, writes);
    this.outbox = new SqliteOutbox(conn, writes);
    this.idempotency = new SqliteIdempotency(conn, writes);
    this.expiry = new SqliteExpiry(conn, writes);
    this.comfort = new SqliteComfort(conn, writes);
    this.events = new SqliteEvents(conn, writes);
  }

  async init(): Promise<void> {
    this.conn.run(() => migrate(this.conn.db));
    // The statements refer to tables that only exist once the schema is migrated.
    this.conn.prepare();
    for (const concern of [this.baskets, this.catalogue, this.reservations, this.transfers, this.orders, this.outbox, this.idempotency, this.expiry, this.comfort, this.events]) {
      concern.prepare();
    }
  }

  async close(): Promise<void> {
    const { db } = this.conn;
    // an update waiting for another connection's lock is committed below, waiting in the busy handler
    this.writes.cancelLockRetry();
    await this.checkpointer?.close();
    if (db.open) this.conn.endRead();
    // updates already accepted are committed (or refused) before the handle goes
    this.writes.drain();
    if (db.open) db.close();
  }

  async ping(): Promise<void> {
    this.conn.ping();
  }

  getBasket(key: BasketKey): Promise<StoredBasket | null> {
    return this.baskets.getBasket(key);
  }
  getBasketSync(key: BasketKey): StoredBasket | null {
    return this.baskets.getBasketSync(key);
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

/** How long opening keeps retrying lock conflicts with processes that start at the same moment. */
const OPEN_RETRY_MS = 10_000;

/** Opens (creating if needed) the database file, migrates it, and returns a ready store. */
export async function openSqliteStore(file: string, options: SqliteStoreOptions = {}): Promise<Store> {
  const inMemory = file === ':memory:' || file === '';
  const lockTimeoutMs = options.lockTimeoutMs ?? BUSY_TIMEOUT_MS;
  if (!Number.isSafeInteger(lockTimeoutMs) || lockTimeoutMs < 0) throw new RangeError(`lockTimeoutMs must be a whole number of ms, not ${lockTimeoutMs}`);
  if (!inMemory) mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const deadline = Date.now() + OPEN_RETRY_MS;
  for (let attempt = 0; ; attempt++) {
    const db = new Database(file, { timeout: lockTimeoutMs });
    const store = new SqliteStore(db, lockTimeoutMs);
    try {
      // An in-memory database has no WAL and no other process; it is for quick experiments only.
      if (inMemory) db.pragma('foreign_keys = ON');
      else configure(db, options.synchronous ?? 'normal', lockTimeoutMs);
      await store.init();
      if (!inMemory) store.checkpointer = startCheckpointer(path.resolve(file), db);
      return store;
    } catch (error) {
      db.close();
      // Switching a new file to WAL or migrating it while another process does the same can fail at once with
      // SQLITE_BUSY (SQLite skips the busy handler where waiting could deadlock): try again shortly.
      if (isBusy(error) && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, Math.min(250, 20 * 2 ** attempt) * (0.5 + Math.random())));
        continue;
      }
      if (isBusy(error)) throw new StoreUnavailableError('SQLite database is locked', { cause: error });
      throw error;
    }
  }
}
