/**
 * SQLite adapter of the Store interface (better-sqlite3, synchronous driver).
 *
 * Concurrency model: inside one process better-sqlite3 runs every statement synchronously, so calls never
 * interleave. Several processes may share the file: every read-modify-write runs in a `BEGIN IMMEDIATE`
 * transaction, which takes the file's write lock before reading, so processes serialize and no update is lost.
 * A group commit that finds the lock taken does not wait in SQLite's busy handler, which sleeps and so stops
 * this process's event loop: it asks for the lock without waiting and, refused, tries again on a later turn while
 * the process goes on serving. Only an update that waited longer than the lock timeout fails, with
 * StoreUnavailableError. The other writes (orders, stock, outbox, transfers …) do the same, one by one (write()).
 *
 * Durability: WAL mode. A commit is in the WAL file (the OS page cache) before the call returns, so a killed
 * process loses no acknowledged write even with synchronous=NORMAL; synchronous=FULL also survives power loss.
 *
 * Group commit: basket updates that arrive in the same turn of the event loop share one IMMEDIATE transaction
 * (each is still its own read → fn → write, in arrival order), and every caller is answered after the commit.
 * A commit costs far more than the updates inside it, so a burst of "add to basket" pays it once. The other
 * writes (transfer tokens, stock, orders, outbox, idempotency records, the expiry purge) join the same groups; a
 * multi-statement one runs in a savepoint, so it fails alone too.
 *
 * Shared reads: the hot reads (baskets, products) of one turn of the event loop share one read transaction,
 * opened by the first and committed when the turn ends (setImmediate) or before anything else touches the
 * database. A read transaction takes and drops file locks (system calls) that cost more than the lookup itself.
 * This process's writes end it first, so it never hides them; another process's write committed during the same
 * turn may be missed by reads until the turn ends (docs/decisions.md). Updates always read inside their own
 * IMMEDIATE transaction.
 *
 * Basket cache: baskets read are kept parsed (and frozen) for the next reads and updates, as long as no other
 * connection has committed: every transaction first checks `PRAGMA data_version`, which changes only on another
 * connection's commit, and empties the cache when it has. An update uses the cached state only if its version is
 * the row's; a write drops the basket it wrote, a purge empties the cache.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { BasketState } from '../domain/basket.js';
import type { Product, ProductInput } from '../domain/catalogue.js';
import {
  cutPage,
  decodeCursor,
  hasCheckout,
  parseJson,
  toComfort,
  toJson,
  toProduct,
  toTransfer,
  type ProductRow,
  type TransferRow,
} from './codec.js';
import {
  assertListLimit,
  assertReserveCounts,
  assertSameOrderKey,
  CallerError,
  callerFn,
  existingIdempotency,
  type IdempotencyRow,
} from './checks.js';
import { BasketChangeListeners } from './listeners.js';
import { startCheckpointer, type Checkpointer } from './sqlite-checkpointer.js';
import {
  DuplicateOrderError,
  StoreUnavailableError,
  type BasketChangeListener,
  type BasketKey,
  type BasketUpdater,
  type ClaimOptions,
  type ComfortSettings,
  type IdempotencyBegin,
  type Order,
  type OrderPage,
  type OutboxInput,
  type OutboxMessage,
  RESERVATION_RETENTION_MS,
  type ReservationState,
  type ReservedLine,
  type ReserveLine,
  type Store,
  type StoredBasket,
  type StoredResponse,
  type TransferRecord,
} from './store.js';

type Db = Database.Database;

export interface SqliteStoreOptions {
  /** NORMAL (default) survives process crashes; FULL also survives power loss, at a cost per commit. */
  synchronous?: 'normal' | 'full';
  /** How long a write waits for another connection's write lock before failing (default 5000 ms). */
  lockTimeoutMs?: number;
}

const BUSY_TIMEOUT_MS = 5000;

/**
 * When to ask again for a write lock that was refused: on the next turn after the first refusal, then every
 * millisecond, so that a wait neither sleeps in the event loop nor keeps a core busy. Returns how to cancel it.
 */
function lockRetryLater(refusals: number, retry: () => void): { cancel(): void } {
  if (refusals === 0) {
    const immediate = setImmediate(retry);
    return { cancel: () => clearImmediate(immediate) };
  }
  const timer = setTimeout(retry, 1);
  return { cancel: () => clearTimeout(timer) };
}
/** Conflicts cannot happen under the IMMEDIATE lock; the bound only guards against a logic error looping. */
const MAX_UPDATE_TRIES = 50;
/** Most basket updates in one group commit: bounds how long one transaction holds the event loop. */
const MAX_GROUP = 128;
/** Most parsed baskets kept for reads (a few MB): the active audience of a live show, not every basket. */
const BASKET_CACHE_ENTRIES = 10_000;

// --- schema ----------------------------------------------------------------------------------------------------

const HOUR_MS = 3_600_000;

/** Append-only: migration i brings the schema to user_version i + 1. Never edit a shipped entry. */
export const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE baskets (
    partner_id   TEXT    NOT NULL,
    user_id      TEXT    NOT NULL,
    version      INTEGER NOT NULL,
    expires      INTEGER NOT NULL,
    has_checkout INTEGER NOT NULL,
    data         TEXT    NOT NULL,
    PRIMARY KEY (partner_id, user_id)
  ) WITHOUT ROWID;
  CREATE INDEX baskets_purge ON baskets (expires) WHERE has_checkout = 0;

  CREATE TABLE products (
    partner_id TEXT    NOT NULL,
    product_id TEXT    NOT NULL,
    stock      INTEGER NULL,
    reserved   INTEGER NOT NULL DEFAULT 0,
    data       TEXT    NOT NULL,
    PRIMARY KEY (partner_id, product_id)
  ) WITHOUT ROWID;

  CREATE TABLE reservations (
    partner_id     TEXT NOT NULL,
    reservation_id TEXT NOT NULL,
    lines          TEXT NOT NULL,
    state          TEXT NOT NULL CHECK (state IN ('reserved', 'released', 'committed')),
    PRIMARY KEY (partner_id, reservation_id)
  );

  CREATE TABLE transfers (
    token_hash TEXT    PRIMARY KEY,
    partner_id TEXT    NOT NULL,
    user_id    TEXT    NOT NULL,
    url        TEXT    NOT NULL,
    expires    INTEGER NOT NULL
  );
  CREATE INDEX transfers_expires ON transfers (expires);

  CREATE TABLE orders (
    partner_id       TEXT    NOT NULL,
    order_no         TEXT    NOT NULL,
    user_id          TEXT    NOT NULL,
    payment_provider TEXT    NOT NULL,
    payment_ref      TEXT    NULL,
    created          INTEGER NOT NULL,
    data             TEXT    NOT NULL,
    PRIMARY KEY (partner_id, order_no)
  );
  CREATE INDEX orders_payment_ref ON orders (payment_provider, payment_ref) WHERE payment_ref IS NOT NULL;
  CREATE INDEX orders_by_user ON orders (partner_id, user_id, created DESC, order_no DESC);

  CREATE TABLE outbox (
    id           TEXT    PRIMARY KEY,
    topic        TEXT    NOT NULL,
    key          TEXT    NOT NULL,
    payload      TEXT    NOT NULL,
    available_at INTEGER NOT NULL,
    claimed_by   TEXT    NULL,
    claim_until  INTEGER NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    last_error   TEXT    NULL,
    UNIQUE (topic, key)
  );
  CREATE INDEX outbox_available ON outbox (available_at);

  CREATE TABLE idempotency (
    scope       TEXT    NOT NULL,
    key         TEXT    NOT NULL,
    fingerprint TEXT    NOT NULL,
    state       TEXT    NOT NULL CHECK (state IN ('running', 'done')),
    response    TEXT    NULL,
    lease_until INTEGER NULL,
    expires     INTEGER NOT NULL,
    PRIMARY KEY (scope, key)
  );
  CREATE INDEX idempotency_expires ON idempotency (expires);

  CREATE TABLE comfort (
    partner_id        TEXT    NOT NULL,
    user_id           TEXT    NOT NULL,
    customer_id       TEXT    NULL,
    payment_method_id TEXT    NULL,
    one_click         INTEGER NOT NULL,
    PRIMARY KEY (partner_id, user_id)
  );
  `,
  // The purge index on expires changed with every basket write (the expiry slides on each change): a page write
  // per update. Indexed by the hour of the expiry instead, it changes only when a write moves the expiry into
  // another hour (see attemptBasketUpdate).
  `
  ALTER TABLE baskets ADD COLUMN expires_hour INTEGER NOT NULL DEFAULT 0;
  UPDATE baskets SET expires_hour = expires / ${HOUR_MS};
  DROP INDEX baskets_purge;
  CREATE INDEX baskets_purge ON baskets (expires_hour) WHERE has_checkout = 0;
  `,
  // When a reservation was released or committed, so that settled ones can be purged after the retention. Those
  // settled before this migration count from the migration.
  `
  ALTER TABLE reservations ADD COLUMN finished INTEGER NULL;
  UPDATE reservations SET finished = CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) WHERE state <> 'reserved';
  CREATE INDEX reservations_finished ON reservations (finished) WHERE finished IS NOT NULL;
  `,
  // Baskets leave WITHOUT ROWID (docs/decisions.md): there a row over ~1,000 bytes of a 4 KiB page (a cart of
  // ~10 lines or more) spills into overflow pages, which made its read ~5x and its update ~1.7x dearer.
  `
  CREATE TABLE baskets_by_rowid (
    partner_id   TEXT    NOT NULL,
    user_id      TEXT    NOT NULL,
    version      INTEGER NOT NULL,
    expires      INTEGER NOT NULL,
    has_checkout INTEGER NOT NULL,
    data         TEXT    NOT NULL,
    expires_hour INTEGER NOT NULL DEFAULT 0,
    UNIQUE (partner_id, user_id)
  );
  INSERT INTO baskets_by_rowid (partner_id, user_id, version, expires, has_checkout, data, expires_hour)
    SELECT partner_id, user_id, version, expires, has_checkout, data, expires_hour FROM baskets ORDER BY partner_id, user_id;
  DROP TABLE baskets;
  ALTER TABLE baskets_by_rowid RENAME TO baskets;
  CREATE INDEX baskets_purge ON baskets (expires_hour) WHERE has_checkout = 0;
  `,
  // A fourth reservation state, `returned` (docs/checkout.md): SQLite cannot change a CHECK constraint in place.
  `
  CREATE TABLE reservations_v5 (
    partner_id     TEXT NOT NULL,
    reservation_id TEXT NOT NULL,
    lines          TEXT NOT NULL,
    state          TEXT NOT NULL CHECK (state IN ('reserved', 'released', 'committed', 'returned')),
    finished       INTEGER NULL,
    PRIMARY KEY (partner_id, reservation_id)
  );
  INSERT INTO reservations_v5 (partner_id, reservation_id, lines, state, finished)
    SELECT partner_id, reservation_id, lines, state, finished FROM reservations;
  DROP TABLE reservations;
  ALTER TABLE reservations_v5 RENAME TO reservations;
  CREATE INDEX reservations_finished ON reservations (finished) WHERE finished IS NOT NULL;
  `,
];

/** The purge index's bucket of an expiry: the hour it falls in (SQLite's integer division of a positive value). */
export function expiresHour(expires: number): number {
  return Math.floor(expires / HOUR_MS);
}

function userVersion(db: Db): number {
  const v = db.pragma('user_version', { simple: true });
  if (typeof v !== 'number') throw new Error('PRAGMA user_version returned a non-number');
  return v;
}

/** Applies pending migrations under the write lock, so processes starting together migrate exactly once. */
function migrate(db: Db): void {
  db.transaction(() => {
    const current = userVersion(db);
    if (current > MIGRATIONS.length) {
      throw new Error(`database schema version ${current} is newer than this build (${MIGRATIONS.length})`);
    }
    for (let v = current; v < MIGRATIONS.length; v++) db.exec(MIGRATIONS[v] ?? '');
    // PRAGMA takes no bound parameters; the value is our own integer.
    if (current < MIGRATIONS.length) db.pragma(`user_version = ${MIGRATIONS.length}`);
  }).immediate();
}

// --- error mapping ---------------------------------------------------------------------------------------------

function isBusy(error: unknown): boolean {
  return (
    error instanceof Database.SqliteError &&
    (error.code.startsWith('SQLITE_BUSY') || error.code.startsWith('SQLITE_LOCKED'))
  );
}

function isUniqueViolation(error: unknown): boolean {
  return (
    error instanceof Database.SqliteError &&
    (error.code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || error.code === 'SQLITE_CONSTRAINT_UNIQUE')
  );
}

function configure(db: Db, synchronous: 'normal' | 'full', lockTimeoutMs: number): void {
  // busy_timeout first: switching to WAL needs a lock that another starting process may hold briefly.
  db.pragma(`busy_timeout = ${lockTimeoutMs}`);
  const mode = db.pragma('journal_mode = WAL', { simple: true });
  if (typeof mode !== 'string' || mode.toLowerCase() !== 'wal') {
    throw new Error(`SQLite refused WAL mode (journal_mode is ${String(mode)})`);
  }
  db.pragma(`synchronous = ${synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
  db.pragma('foreign_keys = ON');
  // 32 MiB of page cache (default 2 MiB) keeps the B-tree interior of a million baskets in memory
  db.pragma('cache_size = -32768');
}

// --- row shapes and (de)serialisation ---------------------------------------------------------------------------

interface BasketRow {
  version: number;
  data: string;
}
/** What the write path reads: the row and what the purge index holds of it. */
interface BasketWriteRow extends BasketRow {
  has_checkout: number;
  expires_hour: number;
}
interface ReservationRow {
  lines: string;
  state: ReservationState;
}
interface OrderRow {
  created: number;
  order_no: string;
  data: string;
}
interface OutboxRow {
  id: string;
  topic: string;
  key: string;
  payload: string;
  attempts: number;
}
interface ComfortRow {
  customer_id: string | null;
  payment_method_id: string | null;
  one_click: number;
}

/** The stored data keeps the productId (written so since the first schema); the column's value wins. */
function rowToProduct(row: ProductRow<string>): Product {
  return toProduct(parseJson<Omit<Product, 'stock' | 'reserved'>>(row.data), row.product_id, row.stock, row.reserved);
}

// --- statements ------------------------------------------------------------------------------------------------

/** Every statement is prepared once, when the store opens. */
function prepareStatements(db: Db) {
  return {
    ping: db.prepare<[], unknown>('SELECT 1'),
    beginRead: db.prepare<[]>('BEGIN DEFERRED'),
    dataVersion: db.prepare<[], number>('PRAGMA data_version').pluck(),
    endRead: db.prepare<[]>('COMMIT'),

    getBasket: db.prepare<[string, string], BasketRow>(
      'SELECT version, data FROM baskets WHERE partner_id = ? AND user_id = ?',
    ),
    getBasketForWrite: db.prepare<[string, string], BasketWriteRow>(
      'SELECT version, has_checkout, expires_hour, data FROM baskets WHERE partner_id = ? AND user_id = ?',
    ),
    insertBasket: db.prepare<[string, string, number, number, number, string]>(
      `INSERT INTO baskets (partner_id, user_id, version, expires, expires_hour, has_checkout, data)
       VALUES (?, ?, 1, ?, ?, ?, ?)
       ON CONFLICT (partner_id, user_id) DO NOTHING`,
    ),
    updateBasket: db.prepare<[number, number, number, string, string, string, number]>(
      `UPDATE baskets SET version = version + 1, expires = ?, expires_hour = ?, has_checkout = ?, data = ?
       WHERE partner_id = ? AND user_id = ? AND version = ?`,
    ),
    // Sets no indexed column: SQLite then leaves the purge index alone (it updates an index whenever one of its
    // columns is assigned, equal value or not).
    updateBasketRow: db.prepare<[number, string, string, string, number]>(
      `UPDATE baskets SET version = version + 1, expires = ?, data = ?
       WHERE partner_id = ? AND user_id = ? AND version = ?`,
    ),
    // Every entry of an hour before now's is expired; of now's hour, the row's expires decides.
    purgeBaskets: db.prepare<[number, number, number]>(
      `DELETE FROM baskets WHERE (partner_id, user_id) IN (
         SELECT partner_id, user_id FROM baskets
         WHERE has_checkout = 0 AND expires_hour <= ? AND expires <= ? LIMIT ?)`,
    ),

    getProducts: db.prepare<[string, string], ProductRow<string>>(
      `SELECT product_id, stock, reserved, data FROM products
       WHERE partner_id = ? AND product_id IN (SELECT value FROM json_each(?))`,
    ),
    getProduct: db.prepare<[string, string], ProductRow<string>>(
      'SELECT product_id, stock, reserved, data FROM products WHERE partner_id = ? AND product_id = ?',
    ),
    getStock: db.prepare<[string, string], { stock: number | null; reserved: number }>(
      'SELECT stock, reserved FROM products WHERE partner_id = ? AND product_id = ?',
    ),
    hasCatalogue: db.prepare<[string], unknown>('SELECT 1 FROM products WHERE partner_id = ? LIMIT 1'),
    upsertProduct: db.prepare<[string, string, number | null, string]>(
      `INSERT INTO products (partner_id, product_id, stock, reserved, data) VALUES (?, ?, ?, 0, ?)
       ON CONFLICT (partner_id, product_id) DO UPDATE SET stock = excluded.stock, data = excluded.data`,
    ),
    // The availability check is repeated in SQL so the row can never go below zero, whatever the caller read.
    reserveUnits: db.prepare<[number, string, string, number]>(
      `UPDATE products SET reserved = reserved + ?
       WHERE partner_id = ? AND product_id = ? AND stock IS NOT NULL AND stock - reserved >= ?`,
    ),
    releaseUnits: db.prepare<[number, string, string]>(
      'UPDATE products SET reserved = MAX(reserved - ?, 0) WHERE partner_id = ? AND product_id = ?',
    ),
    // Stock is clamped at 0: it counts units on hand, which an admin may have lowered below the reservations.
    commitUnits: db.prepare<[number, number, string, string]>(
      `UPDATE products SET reserved = MAX(reserved - ?, 0),
         stock = CASE WHEN stock IS NULL THEN NULL ELSE MAX(stock - ?, 0) END
       WHERE partner_id = ? AND product_id = ?`,
    ),
    // Units back on hand; a product with unlimited stock (NULL) stays unlimited.
    returnUnits: db.prepare<[number, string, string]>(
      'UPDATE products SET stock = stock + ? WHERE partner_id = ? AND product_id = ? AND stock IS NOT NULL',
    ),
    getReservation: db.prepare<[string, string], ReservationRow>(
      'SELECT lines, state FROM reservations WHERE partner_id = ? AND reservation_id = ?',
    ),
    insertReservation: db.prepare<[string, string, string]>(
      `INSERT INTO reservations (partner_id, reservation_id, lines, state) VALUES (?, ?, ?, 'reserved')`,
    ),
    setReservationState: db.prepare<[ReservationState, number, string, string]>(
      `UPDATE reservations SET state = ?, finished = ? WHERE partner_id = ? AND reservation_id = ? AND state = 'reserved'`,
    ),
    returnReservation: db.prepare<[number, string, string]>(
      `UPDATE reservations SET state = 'returned', finished = ? WHERE partner_id = ? AND reservation_id = ? AND state = 'committed'`,
    ),
    purgeReservations: db.prepare<[number, number]>(
      'DELETE FROM reservations WHERE rowid IN (SELECT rowid FROM reservations WHERE finished <= ? LIMIT ?)',
    ),

    putTransfer: db.prepare<[string, string, string, string, number]>(
      `INSERT INTO transfers (token_hash, partner_id, user_id, url, expires) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (token_hash) DO UPDATE SET partner_id = excluded.partner_id, user_id = excluded.user_id,
         url = excluded.url, expires = excluded.expires`,
    ),
    getTransfer: db.prepare<[string, number], TransferRow>(
      'SELECT partner_id, user_id, url, expires FROM transfers WHERE token_hash = ? AND expires > ?',
    ),
    takeTransfer: db.prepare<[string, number], TransferRow>(
      'DELETE FROM transfers WHERE token_hash = ? AND expires > ? RETURNING partner_id, user_id, url, expires',
    ),
    purgeTransfers: db.prepare<[number, number]>(
      'DELETE FROM transfers WHERE rowid IN (SELECT rowid FROM transfers WHERE expires <= ? LIMIT ?)',
    ),

    insertOrder: db.prepare<[string, string, string, string, string | null, number, string]>(
      `INSERT INTO orders (partner_id, order_no, user_id, payment_provider, payment_ref, created, data)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
    ),
    getOrder: db.prepare<[string, string], OrderRow>(
      'SELECT created, order_no, data FROM orders WHERE partner_id = ? AND order_no = ?',
    ),
    getOrderByPaymentRef: db.prepare<[string, string], OrderRow>(
      `SELECT created, order_no, data FROM orders WHERE payment_provider = ? AND payment_ref = ?
       ORDER BY created DESC LIMIT 1`,
    ),
    updateOrder: db.prepare<[string, string, string | null, number, string, string, string]>(
      `UPDATE orders SET user_id = ?, payment_provider = ?, payment_ref = ?, created = ?, data = ?
       WHERE partner_id = ? AND order_no = ?`,
    ),
    listOrdersFirst: db.prepare<[string, string, number], OrderRow>(
      `SELECT created, order_no, data FROM orders WHERE partner_id = ? AND user_id = ?
       ORDER BY created DESC, order_no DESC LIMIT ?`,
    ),
    listOrdersAfter: db.prepare<[string, string, number, number, string, number], OrderRow>(
      `SELECT created, order_no, data FROM orders WHERE partner_id = ? AND user_id = ?
         AND (created < ? OR (created = ? AND order_no < ?))
       ORDER BY created DESC, order_no DESC LIMIT ?`,
    ),

    enqueue: db.prepare<[string, string, string, string, number]>(
      `INSERT INTO outbox (id, topic, key, payload, available_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (topic, key) DO NOTHING`,
    ),
    claimable: db.prepare<[number, number, number], OutboxRow>(
      `SELECT id, topic, key, payload, attempts FROM outbox
       WHERE available_at <= ? AND (claim_until IS NULL OR claim_until <= ?)
       ORDER BY available_at, rowid LIMIT ?`,
    ),
    // Topics go in as one JSON array so a single prepared statement serves any number of them.
    claimableInTopics: db.prepare<[number, number, string, number], OutboxRow>(
      `SELECT id, topic, key, payload, attempts FROM outbox
       WHERE available_at <= ? AND (claim_until IS NULL OR claim_until <= ?)
         AND topic IN (SELECT value FROM json_each(?))
       ORDER BY available_at, rowid LIMIT ?`,
    ),
    markClaimed: db.prepare<[string, number, string]>(
      'UPDATE outbox SET claimed_by = ?, claim_until = ?, attempts = attempts + 1 WHERE id = ?',
    ),
    complete: db.prepare<[string, string]>('DELETE FROM outbox WHERE id = ? AND claimed_by = ?'),
    retry: db.prepare<[number, string, string, string]>(
      `UPDATE outbox SET available_at = ?, claimed_by = NULL, claim_until = NULL, last_error = ?
       WHERE id = ? AND claimed_by = ?`,
    ),

    getIdempotency: db.prepare<[string, string], IdempotencyRow<string>>(
      'SELECT fingerprint, state, response, lease_until, expires FROM idempotency WHERE scope = ? AND key = ?',
    ),
    startIdempotency: db.prepare<[string, string, string, number, number]>(
      `INSERT INTO idempotency (scope, key, fingerprint, state, response, lease_until, expires)
       VALUES (?, ?, ?, 'running', NULL, ?, ?)
       ON CONFLICT (scope, key) DO UPDATE SET fingerprint = excluded.fingerprint, state = 'running',
         response = NULL, lease_until = excluded.lease_until, expires = excluded.expires`,
    ),
    finishIdempotency: db.prepare<[string, string, string]>(
      `UPDATE idempotency SET state = 'done', response = ?, lease_until = NULL
       WHERE scope = ? AND key = ? AND state = 'running'`,
    ),
    abandonIdempotency: db.prepare<[string, string]>(
      `DELETE FROM idempotency WHERE scope = ? AND key = ? AND state = 'running'`,
    ),
    purgeIdempotency: db.prepare<[number, number]>(
      'DELETE FROM idempotency WHERE rowid IN (SELECT rowid FROM idempotency WHERE expires <= ? LIMIT ?)',
    ),

    getComfort: db.prepare<[string, string], ComfortRow>(
      'SELECT customer_id, payment_method_id, one_click FROM comfort WHERE partner_id = ? AND user_id = ?',
    ),
    putComfort: db.prepare<[string, string, string | null, string | null, number]>(
      `INSERT INTO comfort (partner_id, user_id, customer_id, payment_method_id, one_click) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (partner_id, user_id) DO UPDATE SET customer_id = excluded.customer_id,
         payment_method_id = excluded.payment_method_id, one_click = excluded.one_click`,
    ),
  };
}

type Statements = ReturnType<typeof prepareStatements>;

/** What one write of a group (a basket update or another write) did inside the group's transaction. */
type Attempt<R> = { outcome: 'kept' | 'written'; result: R } | { outcome: 'conflict' } | { outcome: 'failed'; error: unknown };

interface PendingBase {
  /** performance.now() when a group commit holding it first found the write lock taken; 0 if it never has. */
  lockWaitFrom: number;
  resolve(result: unknown): void;
  reject(error: unknown): void;
}

/** A basket update waiting for the next group commit. */
interface PendingUpdate extends PendingBase {
  kind: 'basket';
  key: BasketKey;
  fn: BasketUpdater<unknown>;
  tries: number;
}

/** Another write (a statement, or a body in a savepoint) that commits with the next group; its result is resolved. */
interface PendingStatement extends PendingBase {
  kind: 'statement';
  run: () => unknown;
}

type PendingWrite = PendingUpdate | PendingStatement;

/** Thrown inside a group transaction when SQLite rolled it back on its own: no update of the group survived. */
class GroupAborted {
  constructor(readonly error: unknown) {}
}

/** The basket cache's key: partner ids never hold NUL (config allows [A-Za-z0-9._-]), so the first NUL splits. */
function cacheKey(key: BasketKey): string {
  return `${key.partnerId}\u0000${key.userId}`;
}

/** Freezes a parsed JSON value and everything in it (plain objects and arrays only). */
function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

// --- the store -------------------------------------------------------------------------------------------------

class SqliteStore implements Store {
  readonly kind = 'sqlite' as const;
  /** In-process only: SQLite has no notification channel, so writes by other processes are not seen here. */
  private readonly listeners = new BasketChangeListeners();

  /** Prepared by init(): they refer to tables that only exist once the schema is migrated. */
  private statements: Statements | null = null;

  /** The transaction wrapper is built once, as the basket write is the hot path. */
  private readonly groupCommit: Database.Transaction<(group: readonly PendingWrite[]) => Attempt<unknown>[]>;
  /** The transaction of writeTransaction(): runs the body it is given (a savepoint inside a group). */
  private readonly transaction: Database.Transaction<(body: () => unknown) => unknown>;
  /** Writes (basket updates and the others) waiting for the next group commit, and whether one is scheduled. */
  private pending: PendingWrite[] = [];
  private flushScheduled = false;
  /** The retry of a group commit that found the write lock taken; new updates wait for it. */
  private lockRetry: { cancel(): void } | null = null;
  private lockRetries = 0;
  /** Whether the shared read transaction of this turn is open (see read()). */
  private readOpen = false;
  private readonly endReadLater = () => this.endRead();
  /** Parsed baskets by cacheKey(), valid for data_version `cachedVersion` (see the module comment). */
  private readonly cache = new Map<string, StoredBasket>();
  private cachedVersion = -1;
  private readonly flushLater = () => this.flushUpdates();

  /** PRAGMA takes no bound parameters; the value is our own integer. */
  private readonly busyWaitPragma: string;

  constructor(
    private readonly db: Db,
    private readonly lockTimeoutMs: number,
  ) {
    this.busyWaitPragma = `PRAGMA busy_timeout = ${lockTimeoutMs}`;
    this.groupCommit = db.transaction((group: readonly PendingWrite[]) => {
      this.checkDataVersion();
      return group.map((u) => this.attemptInGroup(u));
    });
    this.transaction = db.transaction((body: () => unknown) => body());
  }

  private get st(): Statements {
    if (this.statements === null) throw new Error('SQLite store used before init()');
    return this.statements;
  }

  /**
   * Runs a synchronous database operation, turning lock timeouts and a closed handle into
   * StoreUnavailableError. Any other error (including one thrown by a caller's fn) passes through unchanged.
   */
  private run<T>(op: () => T): T {
    try {
      this.endRead();
      return op();
    } catch (error) {
      throw this.mapError(error);
    }
  }

  /**
   * Whether a write failed only because another connection held the write lock (refused, or rarely rolled back by
   * SQLite for a lock it could not get): then nothing was written and it may be tried again.
   */
  private refusedLock(error: unknown): boolean {
    const cause = error instanceof GroupAborted ? error.error : error instanceof StoreUnavailableError ? error.cause : null;
    return isBusy(cause) && this.db.open && !this.db.inTransaction;
  }

  /**
   * A multi-statement body, all or nothing, committed with the next group (groupWrite()): inside the group's
   * IMMEDIATE transaction better-sqlite3 runs it in a savepoint of its own, so a body that throws leaves nothing
   * behind and fails alone. One wrapper serves every body: db.transaction() builds four wrapped functions per
   * call, ~4 % of a checkout's CPU when it was made per write.
   */
  private writeTransaction<T>(body: () => T): Promise<T> {
    return this.groupWrite(() => this.transaction(body) as T);
  }

  /** Runs op with SQLite's busy handler off (exec, not a prepared statement: SQLite applies this pragma when it compiles it). */
  private withoutBusyWait<T>(op: () => T): T {
    this.db.exec('PRAGMA busy_timeout = 0');
    try {
      return op();
    } finally {
      this.db.exec(this.busyWaitPragma);
    }
  }

  /**
   * Runs a read-only lookup inside the turn's shared read transaction, opening it if needed. Only for single
   * statements that write nothing: any other operation goes through run(), which ends the read transaction.
   */
  private read<T>(op: () => T): T {
    try {
      // SQLite ends a transaction by itself on some errors: inTransaction is the truth, not readOpen alone
      if (!this.readOpen || !this.db.inTransaction) {
        this.readOpen = false;
        this.st.beginRead.run();
        this.readOpen = true;
        setImmediate(this.endReadLater);
        this.checkDataVersion();
      }
      return op();
    } catch (error) {
      throw this.mapError(error);
    }
  }

  /**
   * Empties the basket cache if another connection has committed since it was filled. Run as the first statement
   * of a transaction, so that the value belongs to the snapshot the transaction's reads see.
   */
  private checkDataVersion(): void {
    const dataVersion = this.st.dataVersion.get()!;
    if (dataVersion !== this.cachedVersion) {
      this.cache.clear();
      this.cachedVersion = dataVersion;
    }
  }

  private endRead(): void {
    if (!this.readOpen) return;
    this.readOpen = false;
    if (this.db.open && this.db.inTransaction) this.st.endRead.run();
  }

  private mapError(error: unknown): unknown {
    if (error instanceof CallerError) return error.error;
    if (isBusy(error)) return new StoreUnavailableError('SQLite database is locked', { cause: error });
    if (!this.db.open) return new StoreUnavailableError('SQLite store is closed', { cause: error });
    return error;
  }

  async init(): Promise<void> {
    this.run(() => migrate(this.db));
    this.statements ??= prepareStatements(this.db);
  }

  /** The WAL checkpoint thread of a file database (none in memory); set once the store is open. */
  checkpointer: Checkpointer | null = null;

  async close(): Promise<void> {
    // an update waiting for another connection's lock is committed below, waiting in the busy handler
    this.cancelLockRetry();
    await this.checkpointer?.close();
    if (this.db.open) this.endRead();
    // updates already accepted are committed (or refused) before the handle goes
    while (this.pending.length > 0 && this.db.open) this.flushUpdates(true);
    if (this.db.open) this.db.close();
  }

  async ping(): Promise<void> {
    this.run(() => this.st.ping.get());
  }

  // --- baskets ---------------------------------------------------------------------------------------------------

  async getBasket(key: BasketKey): Promise<StoredBasket | null> {
    return this.getBasketSync(key);
  }

  getBasketSync(key: BasketKey): StoredBasket | null {
    return this.read(() => {
      const id = cacheKey(key);
      const hit = this.cache.get(id);
      if (hit !== undefined) return hit;
      const row = this.st.getBasket.get(key.partnerId, key.userId);
      if (!row) return null;
      // Frozen: every reader shares the object, so a caller that tried to change it would fail loudly.
      const stored = deepFreeze({ state: parseJson<BasketState>(row.data), version: row.version });
      if (this.cache.size >= BASKET_CACHE_ENTRIES) this.cache.delete(this.cache.keys().next().value!);
      this.cache.set(id, stored);
      return stored;
    });
  }

  /** One read → fn → conditional write, run inside the IMMEDIATE transaction of a group commit. */
  private attemptBasketUpdate(key: BasketKey, fn: BasketUpdater<unknown>): Attempt<unknown> {
    const row = this.st.getBasketForWrite.get(key.partnerId, key.userId);
    let current: StoredBasket | null = null;
    if (row) {
      // The cache is current for this transaction (checkDataVersion), and a version names one state of a basket.
      const hit = this.cache.get(cacheKey(key));
      current = hit !== undefined && hit.version === row.version ? hit : { state: parseJson<BasketState>(row.data), version: row.version };
    }
    const change = callerFn(() => fn(current));
    if ('keep' in change) return { outcome: 'kept', result: change.result };
    const { state } = change;
    const json = toJson(state);
    const hour = expiresHour(state.expires);
    const checkout = hasCheckout(state) ? 1 : 0;
    const { partnerId, userId } = key;
    // Conditional on the version read: a write that lost a race changes no row and is retried.
    const written = !row
      ? this.st.insertBasket.run(partnerId, userId, state.expires, hour, checkout, json)
      : row.expires_hour === hour && row.has_checkout === checkout
        ? this.st.updateBasketRow.run(state.expires, json, partnerId, userId, row.version)
        : this.st.updateBasket.run(state.expires, hour, checkout, json, partnerId, userId, row.version);
    return written.changes === 1 ? { outcome: 'written', result: change.result } : { outcome: 'conflict' };
  }

  /**
   * One update of a group: its failure is its own (a rule's domain error, or a statement SQLite undid by
   * itself) unless SQLite rolled back the whole transaction, which fails the group.
   */
  private attemptInGroup(u: PendingWrite): Attempt<unknown> {
    try {
      return u.kind === 'basket' ? this.attemptBasketUpdate(u.key, u.fn) : { outcome: 'written', result: u.run() };
    } catch (error) {
      if (!this.db.inTransaction) throw new GroupAborted(error);
      return { outcome: 'failed', error };
    }
  }

  updateBasket<R>(key: BasketKey, fn: BasketUpdater<R>): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      // fn's result type is erased to unknown for the shared queue; the value resolved is fn's own R.
      this.enqueueUpdate({ kind: 'basket', key, fn, tries: 0, lockWaitFrom: 0, resolve: resolve as (result: unknown) => void, reject });
    });
  }

  /**
   * A write committed with the next group of basket updates instead of in a transaction of its own: a commit
   * per statement was a third of a transfer's CPU. Answered, like the updates, once it is in the WAL.
   */
  private groupWrite<T>(run: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.enqueueUpdate({ kind: 'statement', run, lockWaitFrom: 0, resolve: resolve as (result: unknown) => void, reject });
    });
  }

  private enqueueUpdate(u: PendingWrite): void {
    this.pending.push(u);
    this.scheduleFlush();
  }

  private scheduleFlush(): void {
    if (this.flushScheduled || this.lockRetry !== null) return;
    this.flushScheduled = true;
    // setImmediate runs after the poll phase, so every request read from the sockets in this turn can join
    setImmediate(this.flushLater);
  }

  /**
   * Commits the next group. `block`: wait in SQLite's busy handler, blocking the event loop (close() only, which
   * must finish what it accepted); otherwise a taken lock puts the group back and retries later.
   */
  private flushUpdates(block = false): void {
    this.flushScheduled = false;
    const group = this.pending.splice(0, MAX_GROUP);
    if (group.length === 0) return;
    let attempts: Attempt<unknown>[];
    try {
      // IMMEDIATE takes the write lock before the first read, so other processes cannot write in between.
      // a group refused the lock at once, instead of sleeping, when another connection holds it
      const commit = () => this.groupCommit.immediate(group);
      attempts = this.run(() => (block ? commit() : this.withoutBusyWait(commit)));
    } catch (error) {
      if (!block && this.refusedLock(error)) {
        this.waitForLock(group);
        return;
      }
      this.lockRetries = 0;
      if (this.pending.length > 0) this.scheduleFlush();
      const cause = error instanceof GroupAborted ? this.mapError(error.error) : error;
      for (const u of group) u.reject(cause);
      return;
    }
    this.lockRetries = 0;
    if (this.pending.length > 0) this.scheduleFlush();
    // answered only now: the commit has happened, so every acknowledged write is in the WAL
    for (let i = 0; i < group.length; i++) {
      const u = group[i]!;
      const attempt = attempts[i]!;
      switch (attempt.outcome) {
        case 'written':
          if (u.kind === 'basket') {
            // Dropped, not replaced by the state written: keeping every written state alive until its next write
            // cost more (old-generation garbage collection) than the parse it saved (measured: assign −10 %).
            this.cache.delete(cacheKey(u.key));
            this.listeners.emit(u.key);
          }
          u.resolve(attempt.result);
          break;
        case 'kept':
          u.resolve(attempt.result);
          break;
        case 'failed':
          u.reject(this.mapError(attempt.error));
          break;
        case 'conflict':
          // only a basket update conflicts (its compare-and-set); a statement is 'written' or 'failed'
          if (u.kind !== 'basket' || ++u.tries >= MAX_UPDATE_TRIES) u.reject(new StoreUnavailableError(`basket update kept conflicting after ${MAX_UPDATE_TRIES} tries`));
          else this.enqueueUpdate(u);
          break;
      }
    }
  }

  /**
   * Puts a group refused the lock back at the head of the queue (its order kept) and tries again later
   * (lockRetryLater). An update that has waited longer than the lock timeout fails as the busy handler would have
   * failed it.
   */
  private waitForLock(group: PendingWrite[]): void {
    const now = performance.now();
    const waiting: PendingWrite[] = [];
    for (const u of group) {
      if (u.lockWaitFrom === 0) u.lockWaitFrom = now;
      if (now - u.lockWaitFrom >= this.lockTimeoutMs) u.reject(new StoreUnavailableError('SQLite database is locked'));
      else waiting.push(u);
    }
    this.pending.unshift(...waiting);
    if (this.pending.length === 0) return;
    const retry = () => {
      this.lockRetry = null;
      this.flushUpdates();
    };
    this.lockRetry = lockRetryLater(this.lockRetries++, retry);
  }

  private cancelLockRetry(): void {
    this.lockRetry?.cancel();
    this.lockRetry = null;
  }

  async purgeExpiredBaskets(now: number, limit: number): Promise<number> {
    const purged = await this.groupWrite(() => this.st.purgeBaskets.run(expiresHour(now), now, limit).changes);
    if (purged > 0) this.cache.clear();
    return purged;
  }

  onBasketChange(listener: BasketChangeListener): () => void {
    return this.listeners.add(listener);
  }

  // --- catalogue and stock ---------------------------------------------------------------------------------------

  async getProducts(partnerId: string, productIds: readonly string[]): Promise<Map<string, Product>> {
    const products = new Map<string, Product>();
    if (productIds.length === 0) return products;
    if (productIds.length === 1) {
      // the assign hot path: a plain primary-key lookup instead of json_each
      const row = this.read(() => this.st.getProduct.get(partnerId, productIds[0]!));
      if (row) products.set(row.product_id, rowToProduct(row));
      return products;
    }
    const rows = this.read(() => this.st.getProducts.all(partnerId, JSON.stringify(productIds)));
    for (const row of rows) products.set(row.product_id, rowToProduct(row));
    return products;
  }

  async hasCatalogue(partnerId: string): Promise<boolean> {
    return this.read(() => this.st.hasCatalogue.get(partnerId)) !== undefined;
  }

  async upsertProducts(partnerId: string, products: readonly ProductInput[]): Promise<number> {
    await this.writeTransaction(() => {
      for (const p of products) {
        const { stock, ...rest } = p;
        this.st.upsertProduct.run(partnerId, p.productId, stock, toJson(rest));
      }
    });
    return products.length;
  }

  async reserveStock(partnerId: string, reservationId: string, lines: readonly ReserveLine[]): Promise<ReservedLine[]> {
    assertReserveCounts(lines);
    return this.writeTransaction((): ReservedLine[] => {
      const existing = this.st.getReservation.get(partnerId, reservationId);
      if (existing) return parseJson<ReservedLine[]>(existing.lines);
      const outcome = lines.map((line) => this.reserveLine(partnerId, line));
      this.st.insertReservation.run(partnerId, reservationId, toJson(outcome));
      return outcome;
    });
  }

  /** Must run inside the reservation transaction. */
  private reserveLine(partnerId: string, line: ReserveLine): ReservedLine {
    const product = this.st.getStock.get(partnerId, line.productId);
    if (product === undefined) return { productId: line.productId, stocked: -line.count };
    if (product.stock === null) return { productId: line.productId, stocked: null };
    const done = this.st.reserveUnits.run(line.count, partnerId, line.productId, line.count).changes === 1;
    return { productId: line.productId, stocked: done ? line.count : -line.count };
  }

  async releaseReservation(partnerId: string, reservationId: string): Promise<boolean> {
    return this.settleReservation(partnerId, reservationId, 'released');
  }

  async commitReservation(partnerId: string, reservationId: string): Promise<boolean> {
    return this.settleReservation(partnerId, reservationId, 'committed');
  }

  /** Moves a reservation out of 'reserved' exactly once, returning or consuming its units. */
  private async settleReservation(partnerId: string, reservationId: string, to: 'released' | 'committed'): Promise<boolean> {
    return this.writeTransaction((): boolean => {
      const row = this.st.getReservation.get(partnerId, reservationId);
      if (!row || row.state !== 'reserved') return false;
      for (const line of parseJson<ReservedLine[]>(row.lines)) {
        if (line.stocked === null || line.stocked <= 0) continue;
        if (to === 'released') this.st.releaseUnits.run(line.stocked, partnerId, line.productId);
        else this.st.commitUnits.run(line.stocked, line.stocked, partnerId, line.productId);
      }
      return this.st.setReservationState.run(to, Date.now(), partnerId, reservationId).changes === 1;
    });
  }

  async returnReservation(partnerId: string, reservationId: string): Promise<boolean> {
    return this.writeTransaction((): boolean => {
      if (this.st.returnReservation.run(Date.now(), partnerId, reservationId).changes !== 1) return false;
      const row = this.st.getReservation.get(partnerId, reservationId);
      for (const line of parseJson<ReservedLine[]>(row?.lines ?? '[]')) {
        if (line.stocked !== null && line.stocked > 0) this.st.returnUnits.run(line.stocked, partnerId, line.productId);
      }
      return true;
    });
  }

  async getReservationState(partnerId: string, reservationId: string): Promise<ReservationState | null> {
    return this.run(() => this.st.getReservation.get(partnerId, reservationId))?.state ?? null;
  }

  // --- transfer tokens -------------------------------------------------------------------------------------------
  // A token is valid while now < expires, the same boundary as basket expiry (expired when expires <= now).

  async putTransfer(tokenHash: string, record: TransferRecord): Promise<void> {
    await this.groupWrite(() => this.st.putTransfer.run(tokenHash, record.partnerId, record.userId, record.url, record.expires));
  }

  async getTransfer(tokenHash: string, now: number): Promise<TransferRecord | null> {
    const row = this.run(() => this.st.getTransfer.get(tokenHash, now));
    return row ? toTransfer(row) : null;
  }

  async takeTransfer(tokenHash: string, now: number): Promise<TransferRecord | null> {
    // One DELETE ... RETURNING: the row goes to exactly one caller, in any process.
    const row = await this.groupWrite(() => this.st.takeTransfer.get(tokenHash, now));
    return row ? toTransfer(row) : null;
  }

  // --- orders ----------------------------------------------------------------------------------------------------

  async createOrder(order: Order): Promise<void> {
    try {
      await this.groupWrite(() =>
        this.st.insertOrder.run(
          order.partnerId,
          order.orderNo,
          order.userId,
          order.paymentProvider,
          order.paymentRef,
          order.created,
          toJson(order),
        ),
      );
    } catch (error) {
      if (isUniqueViolation(error)) throw new DuplicateOrderError(order.partnerId, order.orderNo);
      throw error;
    }
  }

  async getOrder(partnerId: string, orderNo: string): Promise<Order | null> {
    const row = this.run(() => this.st.getOrder.get(partnerId, orderNo));
    return row ? parseJson<Order>(row.data) : null;
  }

  async getOrderByPaymentRef(provider: string, paymentRef: string): Promise<Order | null> {
    const row = this.run(() => this.st.getOrderByPaymentRef.get(provider, paymentRef));
    return row ? parseJson<Order>(row.data) : null;
  }

  async updateOrder(partnerId: string, orderNo: string, fn: (order: Order) => Order | null): Promise<Order | null> {
    return this.writeTransaction((): Order | null => {
      const row = this.st.getOrder.get(partnerId, orderNo);
      if (!row) return null;
      const current = parseJson<Order>(row.data);
      const next = callerFn(() => fn(current));
      if (next === null) return current;
      assertSameOrderKey(next, partnerId, orderNo);
      this.st.updateOrder.run(next.userId, next.paymentProvider, next.paymentRef, next.created, toJson(next), partnerId, orderNo);
      return next;
    });
  }

  async listOrders(partnerId: string, userId: string, limit: number, cursor: string | null): Promise<OrderPage> {
    assertListLimit(limit);
    const after = cursor === null ? null : decodeCursor(cursor);
    // One row more than asked tells whether another page exists.
    const rows = this.run(() =>
      after === null
        ? this.st.listOrdersFirst.all(partnerId, userId, limit + 1)
        : this.st.listOrdersAfter.all(partnerId, userId, after.created, after.created, after.orderNo, limit + 1),
    );
    const { page, next } = cutPage(rows, limit, (r) => ({ created: r.created, orderNo: r.order_no }));
    return { orders: page.map((r) => parseJson<Order>(r.data)), next };
  }

  // --- outbox ----------------------------------------------------------------------------------------------------

  async enqueue(messages: readonly OutboxInput[]): Promise<void> {
    await this.writeTransaction(() => {
      for (const m of messages) this.st.enqueue.run(randomUUID(), m.topic, m.key, toJson(m.payload), m.availableAt);
    });
  }

  async claim(options: ClaimOptions): Promise<OutboxMessage[]> {
    const { now, limit, leaseMs, owner, topics } = options;
    if (limit <= 0 || (topics !== undefined && topics.length === 0)) return [];
    return this.writeTransaction((): OutboxMessage[] => {
      const rows =
        topics === undefined
          ? this.st.claimable.all(now, now, limit)
          : this.st.claimableInTopics.all(now, now, JSON.stringify(topics), limit);
      return rows.map((row) => {
        this.st.markClaimed.run(owner, now + leaseMs, row.id);
        return { id: row.id, topic: row.topic, key: row.key, payload: parseJson<unknown>(row.payload), attempts: row.attempts + 1 };
      });
    });
  }

  async complete(id: string, owner: string): Promise<void> {
    await this.groupWrite(() => this.st.complete.run(id, owner));
  }

  async retry(id: string, owner: string, retryAt: number, error: string): Promise<void> {
    await this.groupWrite(() => this.st.retry.run(retryAt, error, id, owner));
  }

  // --- idempotency -----------------------------------------------------------------------------------------------

  async beginIdempotent(
    scope: string,
    key: string,
    fingerprint: string,
    now: number,
    ttlMs: number,
    leaseMs: number,
  ): Promise<IdempotencyBegin> {
    return this.writeTransaction((): IdempotencyBegin => {
      const row = this.st.getIdempotency.get(scope, key);
      const existing = existingIdempotency(row, fingerprint, now, (response) => parseJson<StoredResponse>(response ?? 'null'));
      if (existing !== null) return existing;
      // Absent, expired, or running with a lapsed lease: this caller starts (or takes over) the request.
      this.st.startIdempotency.run(scope, key, fingerprint, now + leaseMs, now + ttlMs);
      return { state: 'new' };
    });
  }

  async finishIdempotent(scope: string, key: string, response: StoredResponse): Promise<void> {
    await this.groupWrite(() => this.st.finishIdempotency.run(toJson(response), scope, key));
  }

  async abandonIdempotent(scope: string, key: string): Promise<void> {
    await this.groupWrite(() => this.st.abandonIdempotency.run(scope, key));
  }

  async purgeExpired(now: number, limit: number): Promise<number> {
    return this.writeTransaction((): number => {
      let gone = this.st.purgeTransfers.run(now, limit).changes;
      gone += this.st.purgeIdempotency.run(now, Math.max(0, limit - gone)).changes;
      return gone + this.st.purgeReservations.run(now - RESERVATION_RETENTION_MS, Math.max(0, limit - gone)).changes;
    });
  }

  // --- per-user settings -----------------------------------------------------------------------------------------

  async getComfort(key: BasketKey): Promise<ComfortSettings | null> {
    const row = this.run(() => this.st.getComfort.get(key.partnerId, key.userId));
    return row ? toComfort(row, row.one_click === 1) : null;
  }

  async putComfort(key: BasketKey, settings: ComfortSettings): Promise<void> {
    await this.groupWrite(() =>
      this.st.putComfort.run(
        key.partnerId,
        key.userId,
        settings.customerId,
        settings.paymentMethodId,
        settings.oneClick ? 1 : 0,
      ),
    );
  }
}

/** Opens (creating if needed) the database file, migrates it, and returns a ready store. */
/** How long opening keeps retrying lock conflicts with processes that start at the same moment. */
const OPEN_RETRY_MS = 10_000;

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
