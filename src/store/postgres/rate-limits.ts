/**
 * Rate-limit counters on PostgreSQL: an UNLOGGED `rate_limits` table in the store's schema (the URL's `schema`
 * parameter, default `public`), reached through a small pool of its own so that counting never waits behind the
 * store's queries (nor they behind it).
 *
 * UNLOGGED: a counter needs no crash safety (a crash or fail-over at worst ends some windows early), and skipping
 * the WAL makes each take cheaper. The table is created on first use, under an advisory lock so that processes
 * starting together create it once; until the server answers, takes fail and the limiter admits (fails open).
 * One take is one `INSERT … ON CONFLICT DO UPDATE … RETURNING`, atomic under the row lock.
 */
import pg from 'pg';
import { PURGE_BATCH, PURGE_EVERY, TAKE_TIMEOUT_MS, windowStart, type RateLimitStore, type TakeResult } from '../rate-limits.js';

const SCHEMA_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;
/** Connections of the counter pool: takes are short and leased in chunks, so a few suffice per process. */
const POOL_SIZE = 3;

/** The table's creation (once per process): DDL may wait for another process's, or for a busy catalogue. */
const INIT_TIMEOUT_MS = 30_000;

class PostgresRateLimits implements RateLimitStore {
  readonly #table: string;
  readonly #take: string;
  readonly #purge: string;
  #ready: Promise<void> | null = null;
  #takes = 0;
  #closed = false;

  constructor(
    private readonly pool: pg.Pool,
    private readonly schema: string,
  ) {
    this.#table = `${pg.escapeIdentifier(schema)}.rate_limits`;
    // SET expressions see the row as it was, so `granted` is computed from the old `used`; a lowered max never
    // lowers a count (GREATEST(used, max)).
    this.#take = `
      INSERT INTO ${this.#table} AS r (key, window_start, used, granted, expires_at)
      VALUES ($1, $2, LEAST($3::integer, $4::integer), LEAST($3::integer, $4::integer), $5)
      ON CONFLICT (key, window_start) DO UPDATE SET
        used = LEAST(r.used + $3::integer, GREATEST(r.used, $4::integer)),
        granted = LEAST(r.used + $3::integer, GREATEST(r.used, $4::integer)) - r.used
      RETURNING used, granted`;
    this.#purge = `
      DELETE FROM ${this.#table} WHERE ctid = ANY(ARRAY(
        SELECT ctid FROM ${this.#table} WHERE expires_at <= $1 LIMIT ${PURGE_BATCH} FOR UPDATE SKIP LOCKED))`;
  }

  /** Creates the schema and table once; a failure is forgotten, so the next take tries again. */
  #init(): Promise<void> {
    this.#ready ??= (async () => {
      const c = await this.pool.connect();
      // DDL (and waiting for another process's) may take longer than a take's deadline on a busy server
      const ddl = (text: string, values?: unknown[]) => c.query({ text, values, query_timeout: INIT_TIMEOUT_MS } as pg.QueryConfig); // pg reads query_timeout per query; its types omit it
      try {
        await ddl('BEGIN');
        await ddl(`SET LOCAL statement_timeout = ${INIT_TIMEOUT_MS}`);
        await ddl('SELECT pg_advisory_xact_lock(hashtext($1))', [`basket-rate-limits:${this.schema}`]);
        await ddl(`CREATE SCHEMA IF NOT EXISTS ${pg.escapeIdentifier(this.schema)}`);
        await ddl(`
          CREATE UNLOGGED TABLE IF NOT EXISTS ${this.#table} (
            key          TEXT    NOT NULL,
            window_start BIGINT  NOT NULL,
            used         INTEGER NOT NULL,
            granted      INTEGER NOT NULL,
            expires_at   BIGINT  NOT NULL,
            PRIMARY KEY (key, window_start)
          )`);
        await ddl(`CREATE INDEX IF NOT EXISTS rate_limits_expires ON ${this.#table} (expires_at)`);
        await ddl('COMMIT');
      } catch (error) {
        await c.query('ROLLBACK').catch(() => {});
        throw error;
      } finally {
        c.release();
      }
    })().catch((error: unknown) => {
      this.#ready = null;
      throw error;
    });
    return this.#ready;
  }

  async take(key: string, windowMs: number, want: number, max: number, now: number): Promise<TakeResult> {
    await this.#init();
    const start = windowStart(now, windowMs);
    const { rows } = await this.pool.query<{ used: number; granted: number }>({
      name: `rate-limit-take:${this.schema}`,
      text: this.#take,
      values: [key, start, want, max, start + windowMs],
    });
    const row = rows[0]!;
    if (++this.#takes % PURGE_EVERY === 0) {
      // in the background: a take does not wait for the purge, and a failed purge is retried by the next one
      this.pool.query(this.#purge, [now]).catch(() => {});
    }
    return { granted: row.granted, used: row.used, resetAt: start + windowMs };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.pool.end();
  }
}

/** A counter store on the PostgreSQL of `url` (postgres://user:pass@host:port/db?schema=name). */
export async function openPostgresRateLimits(url: string): Promise<RateLimitStore> {
  const parsed = new URL(url);
  const schema = parsed.searchParams.get('schema') ?? 'public';
  if (!SCHEMA_NAME.test(schema)) throw new Error(`PostgreSQL schema name ${JSON.stringify(schema)} is not a plain identifier`);
  parsed.searchParams.delete('schema');
  const pool = new pg.Pool({
    connectionString: parsed.toString(),
    max: POOL_SIZE,
    idleTimeoutMillis: 30_000,
    connectionTimeoutMillis: TAKE_TIMEOUT_MS,
    options: `-c statement_timeout=${TAKE_TIMEOUT_MS}`,
    query_timeout: TAKE_TIMEOUT_MS + 500,
    keepAlive: true,
  });
  // an idle connection that breaks is dropped by the pool; the error is not the process's end
  pool.on('error', () => {});
  return new PostgresRateLimits(pool, schema);
}
