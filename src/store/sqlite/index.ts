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
 *   shop/            the shop surface's store (`store.shop`), on the same connection and group commit
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import {
  StoreUnavailableError,
  type BasketKey,
  type Store,
  type StoredBasket,
} from '../store.js';
import { ComposedStore, type StoreParts } from '../shared/composed.js';
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
import { SqliteShopStore } from './shop/index.js';
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

/** The concern modules of this engine, as `ComposedStore` holds them. */
interface SqliteStoreParts extends StoreParts {
  baskets: SqliteBaskets;
  catalogue: SqliteCatalogue;
  reservations: SqliteReservations;
  transfers: SqliteTransfers;
  orders: SqliteOrders;
  outbox: SqliteOutbox;
  idempotency: SqliteIdempotency;
  expiry: SqliteExpiry;
  comfort: SqliteComfort;
  events: SqliteEvents;
  shop: SqliteShopStore;
}

/** Each call goes to the module of its concern (ComposedStore); what is this engine's own is here. */
class SqliteStore extends ComposedStore<SqliteStoreParts> {
  readonly kind = 'sqlite' as const;
  private readonly conn: SqliteConnection;
  private readonly writes: GroupCommit;
  /** The WAL checkpoint thread of a file database (none in memory); set once the store is open. */
  checkpointer: Checkpointer | null = null;

  constructor(db: Database.Database, lockTimeoutMs: number) {
    const conn = new SqliteConnection(db, lockTimeoutMs);
    const writes = new GroupCommit(conn);
    super({
      baskets: new SqliteBaskets(conn, writes),
      catalogue: new SqliteCatalogue(conn, writes),
      reservations: new SqliteReservations(conn, writes),
      transfers: new SqliteTransfers(conn, writes),
      orders: new SqliteOrders(conn, writes),
      outbox: new SqliteOutbox(conn, writes),
      idempotency: new SqliteIdempotency(conn, writes),
      expiry: new SqliteExpiry(conn, writes),
      comfort: new SqliteComfort(conn, writes),
      events: new SqliteEvents(conn, writes),
      shop: new SqliteShopStore(conn, writes),
    });
    this.conn = conn;
    this.writes = writes;
  }

  async init(): Promise<void> {
    this.conn.run(() => migrate(this.conn.db));
    // The statements refer to tables that only exist once the schema is migrated.
    this.conn.prepare();
    for (const concern of [this.baskets, this.catalogue, this.reservations, this.transfers, this.orders, this.outbox, this.idempotency, this.expiry, this.comfort, this.events, this.shop]) {
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

  getBasketSync(key: BasketKey): StoredBasket | null {
    return this.baskets.getBasketSync(key);
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
