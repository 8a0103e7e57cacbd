/**
 * PostgreSQL adapter of the Store interface (node-postgres, a connection pool).
 *
 * Concurrency model:
 * - baskets: optimistic compare-and-set on `version` (`UPDATE ... WHERE version = $n`, `INSERT ... ON CONFLICT DO
 *   NOTHING`), one autocommit statement per attempt. After a few lost races the attempt switches to a short
 *   transaction with `SELECT ... FOR UPDATE`, so a hot basket cannot starve a writer.
 * - stock: `UPDATE products SET reserved = reserved + n WHERE stock - reserved >= n` (a conditional update; the row
 *   lock serialises concurrent reservers, so it cannot oversell), inside a transaction that also inserts the
 *   reservation row; a concurrent repeat of the same reservation id waits on that row and then reads its outcome.
 *   Product rows are always locked in product-id order, so two reservations never deadlock.
 * - outbox: claimed with `FOR UPDATE SKIP LOCKED`; complete/retry are conditional on the owner.
 * - migrations: one transaction under `pg_advisory_xact_lock`, so processes starting together migrate once.
 *
 * Change notifications: every committed basket write runs `pg_notify` in the same statement/transaction, so the
 * notification is delivered exactly when the write commits; each store LISTENs on one dedicated connection.
 *
 * Errors: connection failures (refused, reset, timeouts, admin shutdown, too many connections) surface as
 * StoreUnavailableError; constraint and logic errors pass through.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { KeyedSerializer } from './shared/serial.js';
import { TurnBatch } from './shared/turn-batch.js';
import type { BasketState } from '../domain/basket.js';
import type { Product, ProductInput } from '../domain/catalogue.js';
import {
  cutPage,
  decodeChange,
  decodeCursor,
  encodeChange,
  hasCheckout,
  productData,
  toComfort,
  toJson,
  toProduct,
  toTransfer,
  type ProductData,
  type ProductRow,
  type TransferRow,
} from './shared/codec.js';
import {
  assertListLimit,
  assertReserveCounts,
  assertSameOrderKey,
  CallerError,
  callerFn,
  existingIdempotency,
  type IdempotencyRow,
} from './shared/checks.js';
import { BasketChangeListeners } from './shared/listeners.js';
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

export interface PostgresStoreOptions {
  /** Maximum connections of the pool (PG_POOL_SIZE). Default 10. */
  poolSize?: number;
  /** Schema holding the tables; created when missing. Default: the `schema` URL parameter, else `public`. */
  schema?: string;
  /** How long to wait for a connection (from the pool or the server) before giving up. Default 5000 ms. */
  connectTimeoutMs?: number;
  /** Upper bound for one statement. Default 15000 ms. */
  statementTimeoutMs?: number;
}

/** Optimistic attempts before an update takes the row lock instead. */
const OPTIMISTIC_TRIES = 4;
/** Most basket reads, or optimistic updates, answered together (one statement each). */
const MAX_BATCH = 256;
const MAX_UPDATE_TRIES = 50;
/** Serialization failures and deadlocks are retried this often. */
const MAX_TX_TRIES = 10;

// --- schema ----------------------------------------------------------------------------------------------------

/**
 * Append-only: entry i brings the schema to version i + 1. Never edit a shipped entry.
 * Times are epoch milliseconds (BIGINT). Key columns use the "C" collation so that ordering matches the other
 * adapters (code-unit order). Every per-user table leads with (partner_id, user_id), every per-partner table
 * with partner_id, so that they can be distributed on Citus (docs/scaling.md).
 */
export const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE baskets (
    partner_id   TEXT    COLLATE "C" NOT NULL,
    user_id      TEXT    COLLATE "C" NOT NULL,
    version      INTEGER NOT NULL,
    expires      BIGINT  NOT NULL,
    has_checkout BOOLEAN NOT NULL,
    data         JSONB   NOT NULL,
    PRIMARY KEY (partner_id, user_id)
  );
  CREATE INDEX baskets_purge ON baskets (expires) WHERE NOT has_checkout;

  CREATE TABLE products (
    partner_id TEXT    COLLATE "C" NOT NULL,
    product_id TEXT    COLLATE "C" NOT NULL,
    stock      INTEGER NULL,
    reserved   INTEGER NOT NULL DEFAULT 0 CHECK (reserved >= 0),
    data       JSONB   NOT NULL,
    PRIMARY KEY (partner_id, product_id)
  );

  CREATE TABLE reservations (
    partner_id     TEXT  COLLATE "C" NOT NULL,
    reservation_id TEXT  COLLATE "C" NOT NULL,
    lines          JSONB NOT NULL,
    state          TEXT  NOT NULL CHECK (state IN ('reserved', 'released', 'committed')),
    PRIMARY KEY (partner_id, reservation_id)
  );

  CREATE TABLE transfers (
    token_hash TEXT   COLLATE "C" PRIMARY KEY,
    partner_id TEXT   NOT NULL,
    user_id    TEXT   NOT NULL,
    url        TEXT   NOT NULL,
    expires    BIGINT NOT NULL
  );
  CREATE INDEX transfers_expires ON transfers (expires);

  CREATE TABLE orders (
    partner_id       TEXT   COLLATE "C" NOT NULL,
    order_no         TEXT   COLLATE "C" NOT NULL,
    user_id          TEXT   COLLATE "C" NOT NULL,
    payment_provider TEXT   COLLATE "C" NOT NULL,
    payment_ref      TEXT   COLLATE "C" NULL,
    created          BIGINT NOT NULL,
    data             JSONB  NOT NULL,
    PRIMARY KEY (partner_id, order_no)
  );
  CREATE INDEX orders_payment_ref ON orders (payment_provider, payment_ref) WHERE payment_ref IS NOT NULL;
  CREATE INDEX orders_by_user ON orders (partner_id, user_id, created DESC, order_no DESC);

  CREATE TABLE outbox (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    topic        TEXT   COLLATE "C" NOT NULL,
    key          TEXT   COLLATE "C" NOT NULL,
    payload      JSONB  NOT NULL,
    available_at BIGINT NOT NULL,
    claimed_by   TEXT   NULL,
    claim_until  BIGINT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    last_error   TEXT   NULL,
    UNIQUE (topic, key)
  );
  CREATE INDEX outbox_available ON outbox (available_at, id);

  CREATE TABLE idempotency (
    scope       TEXT   COLLATE "C" NOT NULL,
    key         TEXT   COLLATE "C" NOT NULL,
    fingerprint TEXT   NOT NULL,
    state       TEXT   NOT NULL CHECK (state IN ('running', 'done')),
    response    JSONB  NULL,
    lease_until BIGINT NULL,
    expires     BIGINT NOT NULL,
    PRIMARY KEY (scope, key)
  );
  CREATE INDEX idempotency_expires ON idempotency (expires);

  CREATE TABLE comfort (
    partner_id        TEXT    COLLATE "C" NOT NULL,
    user_id           TEXT    COLLATE "C" NOT NULL,
    customer_id       TEXT    NULL,
    payment_method_id TEXT    NULL,
    one_click         BOOLEAN NOT NULL,
    PRIMARY KEY (partner_id, user_id)
  );
  `,
  // When a reservation was released or committed, so that settled ones can be purged after the retention. Those
  // settled before this migration count from the migration.
  `
  ALTER TABLE reservations ADD COLUMN finished BIGINT NULL;
  UPDATE reservations SET finished = (extract(epoch from now()) * 1000)::bigint WHERE state <> 'reserved';
  CREATE INDEX reservations_finished ON reservations (finished) WHERE finished IS NOT NULL;
  `,
  // A fourth reservation state, `returned`: committed, then put back on stock (docs/checkout.md).
  `
  ALTER TABLE reservations DROP CONSTRAINT reservations_state_check;
  ALTER TABLE reservations ADD CONSTRAINT reservations_state_check
    CHECK (state IN ('reserved', 'released', 'committed', 'returned'));
  `,
];

/**
 * The lines that hold units, in product-id order: product rows are always locked in that order, so two
 * transactions touching the same products cannot deadlock.
 */
function heldInLockOrder(lines: readonly ReservedLine[]): ReservedLine[] {
  return lines
    .filter((l) => l.stocked !== null && l.stocked > 0)
    .sort((a, b) => (a.productId < b.productId ? -1 : a.productId > b.productId ? 1 : 0));
}

// --- errors ----------------------------------------------------------------------------------------------------

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);
/** SQLSTATEs meaning "the server cannot serve this now", as opposed to a bad statement. */
const UNAVAILABLE_SQLSTATES = new Set(['57P01', '57P02', '57P03', '53300', '53400', '57014', '08000', '08001', '08003', '08004', '08006', '08007']);
const RETRY_SQLSTATES = new Set(['40001', '40P01']);

function sqlState(error: unknown): string | undefined {
  if (typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string') return error.code;
  return undefined;
}

function isUnavailable(error: unknown): boolean {
  const code = sqlState(error);
  if (code !== undefined && (NETWORK_CODES.has(code) || UNAVAILABLE_SQLSTATES.has(code))) return true;
  if (!(error instanceof Error)) return false;
  // node-postgres reports these without a code.
  return /Connection terminated|timeout exceeded when trying to connect|Cannot use a pool after calling end|Client has encountered a connection error|Connection is closed|Query read timeout|terminating connection/i.test(
    error.message,
  );
}

function mapError(error: unknown): unknown {
  if (error instanceof CallerError) return error.error;
  if (error instanceof StoreUnavailableError) return error;
  if (isUnavailable(error)) {
    return new StoreUnavailableError(`PostgreSQL unavailable: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
  return error;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
/** A little randomness spreads retries of concurrent losers apart. */
const jitter = (attempt: number): Promise<void> => sleep(Math.random() * Math.min(2 + attempt * 2, 20));

// --- rows ------------------------------------------------------------------------------------------------------

interface BasketRow {
  version: number;
  data: BasketState;
}
interface OrderRow {
  created: number;
  order_no: string;
  data: Order;
}
/** BIGINT (int8) columns hold epoch milliseconds, well inside the safe-integer range: parse them as numbers. */
const types: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') => {
    if (oid === pg.types.builtins.INT8 && format !== 'binary') return (value: string) => Number(value);
    return format === 'binary' ? pg.types.getTypeParser(oid, 'binary') : pg.types.getTypeParser(oid, 'text');
  }) as pg.CustomTypesConfig['getTypeParser'],
};

type Queryable = Pick<pg.PoolClient, 'query'>;

/** What one attempt of an update did: wrote fn's new state, or kept the stored one. */
interface Attempted<R> {
  written: boolean;
  result: R;
}

/** An optimistic basket update waiting for its batch (see optimisticAttempt). */
interface BatchedUpdate {
  key: BasketKey;
  fn: BasketUpdater<unknown>;
  resolve(outcome: Attempted<unknown> | null): void;
  reject(error: unknown): void;
}

/** A basket read waiting for its batch (see getBasket). */
interface BatchedRead {
  key: BasketKey;
  resolve(stored: StoredBasket | null): void;
  reject(error: unknown): void;
}

/** partner ids hold no NUL (config allows [A-Za-z0-9._-]), so the first NUL splits. */
function changeKey(partnerId: string, userId: string): string {
  return `${partnerId}\u0000${userId}`;
}

/**
 * Writes a batch given as one JSON array of {p, u, e, x, c, d, n} (partner, user, version read or null for a new
 * basket, expires, has_checkout, state, notification) and notifies for each row written, in one statement and so
 * one commit. A row whose version moved on, or whose basket was created meanwhile, is not written and not
 * returned.
 */
const WRITE_BATCH_SQL = `
  WITH v AS (
    SELECT * FROM jsonb_to_recordset($1::jsonb) AS v(p text, u text, e integer, x bigint, c boolean, d jsonb, n text)
  ), updated AS (
    UPDATE baskets b SET version = b.version + 1, expires = v.x, has_checkout = v.c, data = v.d
    FROM v WHERE v.e IS NOT NULL AND b.partner_id = v.p AND b.user_id = v.u AND b.version = v.e
    RETURNING b.partner_id AS p, b.user_id AS u, v.n
  ), inserted AS (
    INSERT INTO baskets (partner_id, user_id, version, expires, has_checkout, data)
    SELECT v.p, v.u, 1, v.x, v.c, v.d FROM v WHERE v.e IS NULL
    ON CONFLICT (partner_id, user_id) DO NOTHING
    RETURNING partner_id AS p, user_id AS u
  ), written AS (
    SELECT p, u, n FROM updated
    UNION ALL
    SELECT i.p, i.u, v.n FROM inserted i JOIN v ON v.p = i.p AND v.u = i.u
  )
  SELECT p, u, pg_notify($2, n) FROM written`;

// --- the store -------------------------------------------------------------------------------------------------

class PostgresStore implements Store {
  readonly kind = 'postgres' as const;
  private readonly listeners = new BasketChangeListeners();
  /** Identifies this store in notifications, so it does not report its own writes twice. */
  private readonly origin = randomUUID();
  private readonly channel: string;
  /** Same-basket writes of this process queue here, so that they do not fight each other for the row. */
  private readonly serial = new KeyedSerializer();
  private listenClient: pg.Client | null = null;
  private closed = false;
  /** Basket reads of one turn, answered together (getBasket). */
  private readonly reads = new TurnBatch<BatchedRead>(MAX_BATCH, (batch) => void this.readBatch(batch));
  /** Optimistic basket updates of one turn, read and written together (optimisticAttempt). */
  private readonly updates = new TurnBatch<BatchedUpdate>(MAX_BATCH, (batch) => void this.writeBatch(batch));
  private initDone: Promise<void> | null = null;

  constructor(
    private readonly pool: pg.Pool,
    private readonly schema: string,
    private readonly clientConfig: pg.ClientConfig,
  ) {
    this.channel = `basket_change:${schema}`;
    // An idle client losing its connection emits on the pool; without a handler that would crash the process.
    pool.on('error', (error) => process.emitWarning(`PostgreSQL pool client error: ${error.message}`));
  }

  private async q<R extends pg.QueryResultRow>(text: string, values: unknown[] = [], db: Queryable = this.pool): Promise<pg.QueryResult<R>> {
    if (this.closed) throw new StoreUnavailableError('PostgreSQL store is closed');
    try {
      return await db.query<R>(text, values);
    } catch (error) {
      throw mapError(error);
    }
  }

  /** Runs fn in a transaction on one pooled connection; retries serialization failures and deadlocks. */
  private async tx<T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    if (this.closed) throw new StoreUnavailableError('PostgreSQL store is closed');
    for (let attempt = 0; ; attempt++) {
      let client: pg.PoolClient;
      try {
        client = await this.pool.connect();
      } catch (error) {
        throw mapError(error);
      }
      let broken = false;
      try {
        await client.query('BEGIN');
        const result = await fn(client);
        await client.query('COMMIT');
        return result;
      } catch (error) {
        try {
          await client.query('ROLLBACK');
        } catch {
          broken = true;
        }
        if (!broken && isUnavailable(error)) broken = true;
        const code = sqlState(error);
        if (code !== undefined && RETRY_SQLSTATES.has(code) && attempt < MAX_TX_TRIES) {
          await jitter(attempt);
          continue;
        }
        throw mapError(error);
      } finally {
        client.release(broken);
      }
    }
  }

  init(): Promise<void> {
    // Concurrent init() calls of one store share the work; other processes serialise on the advisory lock.
    this.initDone ??= this.migrate().finally(() => {
      this.initDone = null;
    });
    return this.initDone;
  }

  private async migrate(): Promise<void> {
    await this.tx(async (c) => {
      // One lock per schema: processes starting together queue here and the later ones find the work done.
      await c.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`basket-migrate:${this.schema}`]);
      await c.query(`CREATE SCHEMA IF NOT EXISTS ${pg.escapeIdentifier(this.schema)}`);
      await c.query(`CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied BIGINT NOT NULL)`);
      const { rows } = await c.query<{ v: number | null }>('SELECT max(version) AS v FROM schema_migrations');
      const current = rows[0]?.v ?? 0;
      if (current > MIGRATIONS.length) {
        throw new Error(`database schema version ${current} is newer than this build (${MIGRATIONS.length})`);
      }
      for (let v = current; v < MIGRATIONS.length; v++) {
        await c.query(MIGRATIONS[v] ?? '');
        await c.query('INSERT INTO schema_migrations (version, applied) VALUES ($1, $2)', [v + 1, Date.now()]);
      }
    });
    await this.listen();
  }

  /** One dedicated connection LISTENs for changes made through other store instances (other processes). */
  private async listen(): Promise<void> {
    if (this.listenClient !== null || this.closed) return;
    const client = new pg.Client(this.clientConfig);
    this.listenClient = client;
    client.on('notification', (msg) => {
      if (msg.channel !== this.channel || msg.payload === undefined) return;
      const changed = decodeChange(msg.payload, this.origin);
      if (changed !== null) this.listeners.emit(changed);
    });
    client.on('error', (error) => {
      process.emitWarning(`PostgreSQL LISTEN connection error: ${error.message}`);
      if (this.listenClient === client) this.listenClient = null;
      client.end().catch(() => undefined);
      // Reconnect in the background; changes made meanwhile by other processes are not reported.
      if (!this.closed) setTimeout(() => void this.listen().catch(() => undefined), 1000).unref();
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${pg.escapeIdentifier(this.channel)}`);
    } catch (error) {
      if (this.listenClient === client) this.listenClient = null;
      await client.end().catch(() => undefined);
      throw mapError(error);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const listener = this.listenClient;
    this.listenClient = null;
    await Promise.allSettled([listener?.end(), this.pool.end()]);
  }

  async ping(): Promise<void> {
    await this.q('SELECT 1');
  }

  // --- baskets ---------------------------------------------------------------------------------------------------

  /**
   * Read together with the other basket reads of this turn, in one statement: a statement per read bounded GET
   * to what the pool's connections could round-trip. The statement starts after every read of the batch was
   * asked for, so each sees the baskets as fresh as a statement of its own would.
   */
  getBasket(key: BasketKey): Promise<StoredBasket | null> {
    return new Promise<StoredBasket | null>((resolve, reject) => this.reads.add({ key, resolve, reject }));
  }

  private async readBatch(batch: readonly BatchedRead[]): Promise<void> {
    try {
      const found = await this.readBaskets(batch.map((r) => r.key));
      for (let i = 0; i < batch.length; i++) batch[i]!.resolve(found[i] ?? null);
    } catch (error) {
      for (const r of batch) r.reject(error);
    }
  }

  /** The baskets of `keys` in one statement, in their order; undefined where a basket does not exist. */
  private async readBaskets(keys: readonly BasketKey[]): Promise<(StoredBasket | undefined)[]> {
    // WITH ORDINALITY: a row per key, by its place in the list, so two reads of one basket get an object each
    const { rows } = await this.q<BasketRow & { i: string }>(
      `SELECT k.i, b.version, b.data FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS k(p, u, i)
       JOIN baskets b ON b.partner_id = k.p AND b.user_id = k.u`,
      [keys.map((k) => k.partnerId), keys.map((k) => k.userId)],
    );
    const found: (StoredBasket | undefined)[] = [];
    for (const row of rows) found[Number(row.i) - 1] = { state: row.data, version: row.version };
    return found;
  }

  /**
   * Writes the new state if the version is still `expected` (null: the basket must not exist yet), notifying
   * in the same statement. True when the row was written.
   */
  private async writeBasket(db: Queryable, key: BasketKey, state: BasketState, expected: number | null): Promise<boolean> {
    const params = [key.partnerId, key.userId, state.expires, hasCheckout(state), toJson(state), this.channel, encodeChange(this.origin, key)];
    const sql =
      expected === null
        ? `WITH w AS (
             INSERT INTO baskets (partner_id, user_id, version, expires, has_checkout, data)
             VALUES ($1, $2, 1, $3, $4, $5::jsonb) ON CONFLICT (partner_id, user_id) DO NOTHING RETURNING 1)
           SELECT pg_notify($6, $7) FROM w`
        : `WITH w AS (
             UPDATE baskets SET version = version + 1, expires = $3, has_checkout = $4, data = $5::jsonb
             WHERE partner_id = $1 AND user_id = $2 AND version = $8 RETURNING 1)
           SELECT pg_notify($6, $7) FROM w`;
    const { rowCount } = await this.q(sql, expected === null ? params : [...params, expected], db);
    return rowCount === 1;
  }

  updateBasket<R>(key: BasketKey, fn: BasketUpdater<R>): Promise<R> {
    return this.serial.run(JSON.stringify([key.partnerId, key.userId]), () => this.updateBasketNow(key, fn));
  }

  private async updateBasketNow<R>(key: BasketKey, fn: BasketUpdater<R>): Promise<R> {
    for (let attempt = 0; attempt < MAX_UPDATE_TRIES; attempt++) {
      if (attempt > 0) await jitter(attempt);
      let outcome: Attempted<R> | null;
      try {
        outcome = attempt < OPTIMISTIC_TRIES ? await this.optimisticAttempt(key, fn) : await this.lockedAttempt(key, fn);
      } catch (error) {
        throw mapError(error);
      }
      if (outcome === null) continue;
      if (outcome.written) this.listeners.emit(key);
      return outcome.result;
    }
    throw new StoreUnavailableError(`basket update kept conflicting after ${MAX_UPDATE_TRIES} tries`);
  }

  /**
   * Read, fn, compare-and-set, together with the other updates of this turn: one statement reads every basket of
   * the batch, one writes (and notifies) all that changed. Each commit waits for PostgreSQL's WAL flush, so a
   * statement per update bounded a process to (pool size / flush time) updates a second. Null on conflict.
   */
  private optimisticAttempt<R>(key: BasketKey, fn: BasketUpdater<R>): Promise<Attempted<R> | null> {
    // fn's result type is erased for the shared batch; what is resolved is fn's own R
    return new Promise<Attempted<R> | null>((resolve, reject) =>
      this.updates.add({ key, fn, resolve: resolve as BatchedUpdate['resolve'], reject }),
    );
  }

  /** One batch: the KeyedSerializer lets a basket into at most one attempt at a time, so its keys are distinct. */
  private async writeBatch(batch: readonly BatchedUpdate[]): Promise<void> {
    const waiting = new Set(batch);
    try {
      const stored = await this.readBaskets(batch.map((u) => u.key));
      // one JSON document of the rows to write: each state serialized on its own, so one that cannot be fails alone
      const parts: string[] = [];
      const writes = new Map<string, { u: BatchedUpdate; result: unknown }>();
      for (let i = 0; i < batch.length; i++) {
        const u = batch[i]!;
        const current = stored[i] ?? null;
        let part: string;
        let result: unknown;
        try {
          const change = callerFn(() => u.fn(current));
          if ('keep' in change) {
            waiting.delete(u);
            u.resolve({ written: false, result: change.result });
            continue;
          }
          const { state } = change;
          const row = { p: u.key.partnerId, u: u.key.userId, e: current?.version ?? null, x: state.expires, c: hasCheckout(state), n: encodeChange(this.origin, u.key) };
          part = `${JSON.stringify(row).slice(0, -1)},"d":${toJson(state)}}`;
          result = change.result;
        } catch (error) {
          waiting.delete(u);
          u.reject(error);
          continue;
        }
        parts.push(part);
        writes.set(changeKey(u.key.partnerId, u.key.userId), { u, result });
      }
      if (parts.length === 0) return;
      const written = await this.q<{ p: string; u: string }>(WRITE_BATCH_SQL, [`[${parts.join(',')}]`, this.channel]);
      for (const row of written.rows) {
        const w = writes.get(changeKey(row.p, row.u));
        if (w === undefined) continue;
        waiting.delete(w.u);
        w.u.resolve({ written: true, result: w.result });
      }
      // the others lost a race with another process (the version moved on, or the basket was created meanwhile)
      for (const u of waiting) u.resolve(null);
      waiting.clear();
    } catch (error) {
      for (const u of waiting) u.reject(error);
    }
  }

  /** Read under the row lock, fn, write: no other writer can come between. Null on conflict (concurrent create). */
  private async lockedAttempt<R>(key: BasketKey, fn: BasketUpdater<R>): Promise<Attempted<R> | null> {
    return this.tx(async (c) => {
        const { rows } = await c.query<BasketRow>(
          'SELECT version, data FROM baskets WHERE partner_id = $1 AND user_id = $2 FOR UPDATE',
          [key.partnerId, key.userId],
        );
        const row = rows[0];
        const current = row ? { state: row.data, version: row.version } : null;
        const change = callerFn(() => fn(current));
        if ('keep' in change) return { written: false, result: change.result };
        const ok = await this.writeBasket(c, key, change.state, current?.version ?? null);
        return ok ? { written: true, result: change.result } : null;
    });
  }

  async purgeExpiredBaskets(now: number, limit: number): Promise<number> {
    if (limit <= 0) return 0;
    const { rowCount } = await this.q(
      `DELETE FROM baskets b USING (
         SELECT partner_id, user_id FROM baskets WHERE NOT has_checkout AND expires <= $1
         LIMIT $2 FOR UPDATE SKIP LOCKED) d
       WHERE b.partner_id = d.partner_id AND b.user_id = d.user_id AND NOT b.has_checkout AND b.expires <= $1`,
      [now, limit],
    );
    return rowCount ?? 0;
  }

  onBasketChange(listener: BasketChangeListener): () => void {
    return this.listeners.add(listener);
  }

  // --- catalogue and stock ---------------------------------------------------------------------------------------

  async getProducts(partnerId: string, productIds: readonly string[]): Promise<Map<string, Product>> {
    const products = new Map<string, Product>();
    if (productIds.length === 0) return products;
    const { rows } = await this.q<ProductRow<ProductData>>(
      'SELECT product_id, stock, reserved, data FROM products WHERE partner_id = $1 AND product_id = ANY($2::text[])',
      [partnerId, [...productIds]],
    );
    for (const row of rows) {
      products.set(row.product_id, toProduct(row.data, row.product_id, row.stock, row.reserved));
    }
    return products;
  }

  async hasCatalogue(partnerId: string): Promise<boolean> {
    const { rowCount } = await this.q('SELECT 1 FROM products WHERE partner_id = $1 LIMIT 1', [partnerId]);
    return (rowCount ?? 0) > 0;
  }

  async upsertProducts(partnerId: string, products: readonly ProductInput[]): Promise<number> {
    if (products.length === 0) return 0;
    // Last one wins for repeated ids, as with one upsert after the other; sorted to lock rows in a fixed order.
    const byId = new Map<string, ProductInput>();
    for (const p of products) byId.set(p.productId, p);
    const list = [...byId.values()].sort((a, b) => (a.productId < b.productId ? -1 : a.productId > b.productId ? 1 : 0));
    await this.q(
      `INSERT INTO products (partner_id, product_id, stock, reserved, data)
       SELECT $1, u.id, u.stock, 0, u.data FROM unnest($2::text[], $3::int[], $4::jsonb[]) AS u(id, stock, data)
       ON CONFLICT (partner_id, product_id) DO UPDATE SET stock = excluded.stock, data = excluded.data`,
      [
        partnerId,
        list.map((p) => p.productId),
        list.map((p) => p.stock),
        list.map((p) => toJson(productData(p))),
      ],
    );
    return products.length;
  }

  async reserveStock(partnerId: string, reservationId: string, lines: readonly ReserveLine[]): Promise<ReservedLine[]> {
    assertReserveCounts(lines);
    const fresh = await this.tx(async (c): Promise<ReservedLine[] | null> => {
      // The row is the idempotency record: a concurrent repeat blocks on it until this transaction ends.
      const inserted = await c.query(
        `INSERT INTO reservations (partner_id, reservation_id, lines, state) VALUES ($1, $2, '[]', 'reserved')
         ON CONFLICT (partner_id, reservation_id) DO NOTHING RETURNING 1`,
        [partnerId, reservationId],
      );
      if (inserted.rowCount !== 1) return null;
      const outcome = new Map<number, ReservedLine>();
      // Lock order by product id: two reservations touching the same products cannot deadlock.
      const order = lines.map((line, i) => ({ line, i })).sort((a, b) => (a.line.productId < b.line.productId ? -1 : a.line.productId > b.line.productId ? 1 : a.i - b.i));
      for (const { line, i } of order) outcome.set(i, await this.reserveLine(c, partnerId, line));
      const result = lines.map((_, i) => outcome.get(i)!);
      await c.query('UPDATE reservations SET lines = $3::jsonb WHERE partner_id = $1 AND reservation_id = $2', [
        partnerId,
        reservationId,
        toJson(result),
      ]);
      return result;
    });
    if (fresh !== null) return fresh;
    const { rows } = await this.q<{ lines: ReservedLine[] }>(
      'SELECT lines FROM reservations WHERE partner_id = $1 AND reservation_id = $2',
      [partnerId, reservationId],
    );
    const row = rows[0];
    if (!row) throw new Error(`reservation ${reservationId} vanished while being read`);
    return row.lines;
  }

  private async reserveLine(c: Queryable, partnerId: string, line: ReserveLine): Promise<ReservedLine> {
    // The availability check is in the UPDATE itself: under the row lock, never below zero.
    const done = await c.query(
      `UPDATE products SET reserved = reserved + $3
       WHERE partner_id = $1 AND product_id = $2 AND stock IS NOT NULL AND stock - reserved >= $3 RETURNING 1`,
      [partnerId, line.productId, line.count],
    );
    if (done.rowCount === 1) return { productId: line.productId, stocked: line.count };
    const { rows } = await c.query<{ stock: number | null }>('SELECT stock FROM products WHERE partner_id = $1 AND product_id = $2', [
      partnerId,
      line.productId,
    ]);
    const row = rows[0];
    if (row !== undefined && row.stock === null) return { productId: line.productId, stocked: null };
    return { productId: line.productId, stocked: -line.count };
  }

  async releaseReservation(partnerId: string, reservationId: string): Promise<boolean> {
    return this.settleReservation(partnerId, reservationId, 'released');
  }

  async commitReservation(partnerId: string, reservationId: string): Promise<boolean> {
    return this.settleReservation(partnerId, reservationId, 'committed');
  }

  private async settleReservation(partnerId: string, reservationId: string, to: 'released' | 'committed'): Promise<boolean> {
    return this.tx(async (c) => {
      const { rows } = await c.query<{ lines: ReservedLine[] }>(
        `UPDATE reservations SET state = $3, finished = $4
         WHERE partner_id = $1 AND reservation_id = $2 AND state = 'reserved' RETURNING lines`,
        [partnerId, reservationId, to, Date.now()],
      );
      const row = rows[0];
      if (!row) return false;
      for (const line of heldInLockOrder(row.lines)) {
        const n = line.stocked ?? 0;
        if (to === 'released') {
          await c.query('UPDATE products SET reserved = GREATEST(reserved - $3, 0) WHERE partner_id = $1 AND product_id = $2', [
            partnerId,
            line.productId,
            n,
          ]);
        } else {
          // Stock counts units on hand, which an admin may have lowered below the reservations: clamp at 0.
          await c.query(
            `UPDATE products SET reserved = GREATEST(reserved - $3, 0),
               stock = CASE WHEN stock IS NULL THEN NULL ELSE GREATEST(stock - $3, 0) END
             WHERE partner_id = $1 AND product_id = $2`,
            [partnerId, line.productId, n],
          );
        }
      }
      return true;
    });
  }

  async returnReservation(partnerId: string, reservationId: string): Promise<boolean> {
    return this.tx(async (c) => {
      const { rows } = await c.query<{ lines: ReservedLine[] }>(
        `UPDATE reservations SET state = 'returned', finished = $3
         WHERE partner_id = $1 AND reservation_id = $2 AND state = 'committed' RETURNING lines`,
        [partnerId, reservationId, Date.now()],
      );
      const row = rows[0];
      if (!row) return false;
      for (const line of heldInLockOrder(row.lines)) {
        await c.query('UPDATE products SET stock = stock + $3 WHERE partner_id = $1 AND product_id = $2 AND stock IS NOT NULL', [
          partnerId,
          line.productId,
          line.stocked,
        ]);
      }
      return true;
    });
  }

  async getReservationState(partnerId: string, reservationId: string): Promise<ReservationState | null> {
    const { rows } = await this.q<{ state: ReservationState }>(
      'SELECT state FROM reservations WHERE partner_id = $1 AND reservation_id = $2',
      [partnerId, reservationId],
    );
    return rows[0]?.state ?? null;
  }

  // --- transfer tokens (valid while now < expires) ---------------------------------------------------------------

  async putTransfer(tokenHash: string, record: TransferRecord): Promise<void> {
    await this.q(
      `INSERT INTO transfers (token_hash, partner_id, user_id, url, expires) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (token_hash) DO UPDATE SET partner_id = excluded.partner_id, user_id = excluded.user_id,
         url = excluded.url, expires = excluded.expires`,
      [tokenHash, record.partnerId, record.userId, record.url, record.expires],
    );
  }

  async getTransfer(tokenHash: string, now: number): Promise<TransferRecord | null> {
    const { rows } = await this.q<TransferRow>(
      'SELECT partner_id, user_id, url, expires FROM transfers WHERE token_hash = $1 AND expires > $2',
      [tokenHash, now],
    );
    return rows[0] ? toTransfer(rows[0]) : null;
  }

  async takeTransfer(tokenHash: string, now: number): Promise<TransferRecord | null> {
    const { rows } = await this.q<TransferRow>(
      'DELETE FROM transfers WHERE token_hash = $1 AND expires > $2 RETURNING partner_id, user_id, url, expires',
      [tokenHash, now],
    );
    return rows[0] ? toTransfer(rows[0]) : null;
  }

  // --- orders ----------------------------------------------------------------------------------------------------

  async createOrder(order: Order): Promise<void> {
    const { rowCount } = await this.q(
      `INSERT INTO orders (partner_id, order_no, user_id, payment_provider, payment_ref, created, data)
       VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb) ON CONFLICT (partner_id, order_no) DO NOTHING`,
      [order.partnerId, order.orderNo, order.userId, order.paymentProvider, order.paymentRef, order.created, toJson(order)],
    );
    if (rowCount !== 1) throw new DuplicateOrderError(order.partnerId, order.orderNo);
  }

  async getOrder(partnerId: string, orderNo: string): Promise<Order | null> {
    const { rows } = await this.q<OrderRow>('SELECT data FROM orders WHERE partner_id = $1 AND order_no = $2', [partnerId, orderNo]);
    return rows[0]?.data ?? null;
  }

  async getOrderByPaymentRef(provider: string, paymentRef: string): Promise<Order | null> {
    const { rows } = await this.q<OrderRow>(
      `SELECT data FROM orders WHERE payment_provider = $1 AND payment_ref = $2 ORDER BY created DESC LIMIT 1`,
      [provider, paymentRef],
    );
    return rows[0]?.data ?? null;
  }

  async updateOrder(partnerId: string, orderNo: string, fn: (order: Order) => Order | null): Promise<Order | null> {
    return this.tx(async (c) => {
        const { rows } = await c.query<OrderRow>('SELECT data FROM orders WHERE partner_id = $1 AND order_no = $2 FOR UPDATE', [
          partnerId,
          orderNo,
        ]);
        const current = rows[0]?.data;
        if (current === undefined) return null;
        const next = callerFn(() => fn(current));
        if (next === null) return current;
        assertSameOrderKey(next, partnerId, orderNo);
        await c.query(
          `UPDATE orders SET user_id = $3, payment_provider = $4, payment_ref = $5, created = $6, data = $7::jsonb
           WHERE partner_id = $1 AND order_no = $2`,
          [partnerId, orderNo, next.userId, next.paymentProvider, next.paymentRef, next.created, toJson(next)],
        );
        return next;
    });
  }

  async listOrders(partnerId: string, userId: string, limit: number, cursor: string | null): Promise<OrderPage> {
    assertListLimit(limit);
    const after = cursor === null ? null : decodeCursor(cursor);
    const { rows } =
      after === null
        ? await this.q<OrderRow>(
            `SELECT created, order_no, data FROM orders WHERE partner_id = $1 AND user_id = $2
             ORDER BY created DESC, order_no DESC LIMIT $3`,
            [partnerId, userId, limit + 1],
          )
        : await this.q<OrderRow>(
            `SELECT created, order_no, data FROM orders WHERE partner_id = $1 AND user_id = $2
               AND (created, order_no) < ($3, $4)
             ORDER BY created DESC, order_no DESC LIMIT $5`,
            [partnerId, userId, after.created, after.orderNo, limit + 1],
          );
    const { page, next } = cutPage(rows, limit, (r) => ({ created: r.created, orderNo: r.order_no }));
    return { orders: page.map((r) => r.data), next };
  }

  // --- outbox ----------------------------------------------------------------------------------------------------

  async enqueue(messages: readonly OutboxInput[]): Promise<void> {
    if (messages.length === 0) return;
    // One statement; WITH ORDINALITY keeps the given order, so the first of duplicates within the batch wins.
    await this.q(
      `INSERT INTO outbox (topic, key, payload, available_at)
       SELECT DISTINCT ON (topic, key) topic, key, payload, available_at
       FROM unnest($1::text[], $2::text[], $3::jsonb[], $4::bigint[]) WITH ORDINALITY AS m(topic, key, payload, available_at, n)
       ORDER BY topic, key, n
       ON CONFLICT (topic, key) DO NOTHING`,
      [messages.map((m) => m.topic), messages.map((m) => m.key), messages.map((m) => toJson(m.payload)), messages.map((m) => m.availableAt)],
    );
  }

  async claim(options: ClaimOptions): Promise<OutboxMessage[]> {
    const { now, limit, leaseMs, owner, topics } = options;
    if (limit <= 0 || (topics !== undefined && topics.length === 0)) return [];
    const { rows } = await this.q<{ id: number; topic: string; key: string; payload: unknown; attempts: number; available_at: number }>(
      `UPDATE outbox o SET claimed_by = $3, claim_until = $1 + $4::bigint, attempts = o.attempts + 1
       FROM (
         SELECT id FROM outbox
         WHERE available_at <= $1 AND (claim_until IS NULL OR claim_until <= $1)
           AND ($5::text[] IS NULL OR topic = ANY($5::text[]))
         ORDER BY available_at, id LIMIT $2
         FOR UPDATE SKIP LOCKED) c
       WHERE o.id = c.id
       RETURNING o.id, o.topic, o.key, o.payload, o.attempts, o.available_at`,
      [now, limit, owner, leaseMs, topics === undefined ? null : [...topics]],
    );
    rows.sort((a, b) => a.available_at - b.available_at || a.id - b.id);
    return rows.map((r) => ({ id: String(r.id), topic: r.topic, key: r.key, payload: r.payload, attempts: r.attempts }));
  }

  async complete(id: string, owner: string): Promise<void> {
    if (!/^\d{1,18}$/.test(id)) return;
    await this.q('DELETE FROM outbox WHERE id = $1 AND claimed_by = $2', [id, owner]);
  }

  async retry(id: string, owner: string, retryAt: number, error: string): Promise<void> {
    if (!/^\d{1,18}$/.test(id)) return;
    await this.q(
      `UPDATE outbox SET available_at = $1, claimed_by = NULL, claim_until = NULL, last_error = $2
       WHERE id = $3 AND claimed_by = $4`,
      [retryAt, error, id, owner],
    );
  }

  // --- idempotency -----------------------------------------------------------------------------------------------

  async beginIdempotent(scope: string, key: string, fingerprint: string, now: number, ttlMs: number, leaseMs: number): Promise<IdempotencyBegin> {
    return this.tx(async (c): Promise<IdempotencyBegin> => {
      const inserted = await c.query(
        `INSERT INTO idempotency (scope, key, fingerprint, state, response, lease_until, expires)
         VALUES ($1, $2, $3, 'running', NULL, $4, $5) ON CONFLICT (scope, key) DO NOTHING RETURNING 1`,
        [scope, key, fingerprint, now + leaseMs, now + ttlMs],
      );
      if (inserted.rowCount === 1) return { state: 'new' };
      const { rows } = await c.query<IdempotencyRow<StoredResponse>>(
        'SELECT fingerprint, state, response, lease_until, expires FROM idempotency WHERE scope = $1 AND key = $2 FOR UPDATE',
        [scope, key],
      );
      const existing = existingIdempotency(rows[0], fingerprint, now, (response) => response ?? { status: 0, body: null });
      if (existing !== null) return existing;
      // Absent (deleted meanwhile), expired, or running with a lapsed lease: this caller starts it.
      await c.query(
        `INSERT INTO idempotency (scope, key, fingerprint, state, response, lease_until, expires)
         VALUES ($1, $2, $3, 'running', NULL, $4, $5)
         ON CONFLICT (scope, key) DO UPDATE SET fingerprint = excluded.fingerprint, state = 'running',
           response = NULL, lease_until = excluded.lease_until, expires = excluded.expires`,
        [scope, key, fingerprint, now + leaseMs, now + ttlMs],
      );
      return { state: 'new' };
    });
  }

  async finishIdempotent(scope: string, key: string, response: StoredResponse): Promise<void> {
    await this.q(
      `UPDATE idempotency SET state = 'done', response = $1::jsonb, lease_until = NULL
       WHERE scope = $2 AND key = $3 AND state = 'running'`,
      [toJson(response), scope, key],
    );
  }

  async abandonIdempotent(scope: string, key: string): Promise<void> {
    await this.q(`DELETE FROM idempotency WHERE scope = $1 AND key = $2 AND state = 'running'`, [scope, key]);
  }

  async purgeExpired(now: number, limit: number): Promise<number> {
    if (limit <= 0) return 0;
    const transfers = await this.q(
      `DELETE FROM transfers WHERE token_hash IN (
         SELECT token_hash FROM transfers WHERE expires <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED) AND expires <= $1`,
      [now, limit],
    );
    const gone = transfers.rowCount ?? 0;
    if (gone >= limit) return gone;
    const idem = await this.q(
      `DELETE FROM idempotency i USING (
         SELECT scope, key FROM idempotency WHERE expires <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED) d
       WHERE i.scope = d.scope AND i.key = d.key AND i.expires <= $1`,
      [now, limit - gone],
    );
    const settled = gone + (idem.rowCount ?? 0);
    if (settled >= limit) return settled;
    const reservations = await this.q(
      `DELETE FROM reservations r USING (
         SELECT partner_id, reservation_id FROM reservations WHERE finished <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED) d
       WHERE r.partner_id = d.partner_id AND r.reservation_id = d.reservation_id AND r.finished <= $1`,
      [now - RESERVATION_RETENTION_MS, limit - settled],
    );
    return settled + (reservations.rowCount ?? 0);
  }

  // --- per-user settings -----------------------------------------------------------------------------------------

  async getComfort(key: BasketKey): Promise<ComfortSettings | null> {
    const { rows } = await this.q<{ customer_id: string | null; payment_method_id: string | null; one_click: boolean }>(
      'SELECT customer_id, payment_method_id, one_click FROM comfort WHERE partner_id = $1 AND user_id = $2',
      [key.partnerId, key.userId],
    );
    const row = rows[0];
    return row ? toComfort(row, row.one_click) : null;
  }

  async putComfort(key: BasketKey, settings: ComfortSettings): Promise<void> {
    await this.q(
      `INSERT INTO comfort (partner_id, user_id, customer_id, payment_method_id, one_click) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (partner_id, user_id) DO UPDATE SET customer_id = excluded.customer_id,
         payment_method_id = excluded.payment_method_id, one_click = excluded.one_click`,
      [key.partnerId, key.userId, settings.customerId, settings.paymentMethodId, settings.oneClick],
    );
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
    query_timeout: (options.statementTimeoutMs ?? 15_000) + 5000,
    keepAlive: true,
    types,
  };
  const pool = new pg.Pool({ ...clientConfig, max: options.poolSize ?? 10, idleTimeoutMillis: 30_000 });
  const store = new PostgresStore(pool, schema, clientConfig);
  try {
    await store.init();
    return store;
  } catch (error) {
    await store.close();
    throw mapError(error);
  }
}
