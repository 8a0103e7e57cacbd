/**
 * PostgreSQL adapter of the Store interface (node-postgres, a connection pool), composed of one module per concern.
 *
 *   connection.ts     the pool, q() and tx(), and the mapping of connection failures to StoreUnavailableError
 *   schema.ts         migrations, applied under an advisory lock
 *   notifications.ts  the LISTEN connection that reports other processes' basket writes
 *   baskets.ts, catalogue.ts, reservations.ts, transfers.ts, orders.ts, outbox.ts, idempotency.ts, expiry.ts,
 *   comfort.ts        one concern each: its statements and its methods
 *   shop/             the shop surface's store (`store.shop`), on the same pool
 */
import pg from 'pg';
import type { Store } from '../store.js';
import { ComposedStore, type StoreParts } from '../shared/composed.js';
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
import { PgShopStore } from './shop/index.js';
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

/** The concern modules of this engine, as `ComposedStore` holds them. */
interface PostgresStoreParts extends StoreParts {
  baskets: PgBaskets;
  catalogue: PgCatalogue;
  reservations: PgReservations;
  transfers: PgTransfers;
  orders: PgOrders;
  outbox: PgOutbox;
  idempotency: PgIdempotency;
  expiry: PgExpiry;
  comfort: PgComfort;
  events: PgEvents;
  shop: PgShopStore;
}

/** Each call goes to the module of its concern (ComposedStore); what is this engine's own is here. */
class PostgresStore extends ComposedStore<PostgresStoreParts> {
  readonly kind = 'postgres' as const;
  private readonly conn: PgConnection;
  private readonly notifications: PgNotifications;
  private initDone: Promise<void> | null = null;

  constructor(pool: pg.Pool, schema: string, clientConfig: pg.ClientConfig) {
    const conn = new PgConnection(pool, schema, clientConfig);
    const notifications = new PgNotifications(conn);
    super({
      baskets: new PgBaskets(conn, notifications),
      catalogue: new PgCatalogue(conn),
      reservations: new PgReservations(conn),
      transfers: new PgTransfers(conn),
      orders: new PgOrders(conn),
      outbox: new PgOutbox(conn),
      idempotency: new PgIdempotency(conn),
      expiry: new PgExpiry(conn),
      comfort: new PgComfort(conn),
      events: new PgEvents(conn),
      shop: new PgShopStore(conn),
    });
    this.conn = conn;
    this.notifications = notifications;
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
