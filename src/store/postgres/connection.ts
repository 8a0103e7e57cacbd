/**
 * The connection pool of a PostgreSQL store, and what every concern module runs its statements through: q() for
 * one autocommit statement, tx() for a transaction on one pooled connection.
 *
 * Errors: connection failures (refused, reset, timeouts, admin shutdown, too many connections) surface as
 * StoreUnavailableError; constraint and logic errors pass through.
 */
import pg from 'pg';
import { CallerError } from '../shared/checks.js';
import { warnConnection } from '../shared/outage-log.js';
import { StoreUnavailableError } from '../store.js';

/** Serialization failures and deadlocks are retried this often. */
const MAX_TX_TRIES = 10;

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
  // node-postgres reports these without a code (`timeout expired`: a new connection missed its connect timeout).
  return /Connection terminated|timeout exceeded when trying to connect|^timeout expired$|Cannot use a pool after calling end|Client has encountered a connection error|Connection is closed|Query read timeout|terminating connection/i.test(
    error.message,
  );
}

export function mapError(error: unknown): unknown {
  if (error instanceof CallerError) return error.error;
  if (error instanceof StoreUnavailableError) return error;
  if (isUnavailable(error)) {
    return new StoreUnavailableError(`PostgreSQL unavailable: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
  return error;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
/** A little randomness spreads retries of concurrent losers apart. */
export const jitter = (attempt: number): Promise<void> => sleep(Math.random() * Math.min(2 + attempt * 2, 20));

/** BIGINT (int8) columns hold epoch milliseconds, well inside the safe-integer range: parse them as numbers. */
export const types: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') => {
    if (oid === pg.types.builtins.INT8 && format !== 'binary') return (value: string) => Number(value);
    return format === 'binary' ? pg.types.getTypeParser(oid, 'binary') : pg.types.getTypeParser(oid, 'text');
  }) as pg.CustomTypesConfig['getTypeParser'],
};

export type Queryable = Pick<pg.PoolClient, 'query'>;

export class PgConnection {
  closed = false;

  constructor(
    readonly pool: pg.Pool,
    /** Schema holding the tables. */
    readonly schema: string,
    /** How a connection of its own is opened (the LISTEN connection). */
    readonly clientConfig: pg.ClientConfig,
  ) {
    // An idle client losing its connection emits on the pool; without a handler that would crash the process.
    pool.on('error', (error) => warnConnection(`PostgreSQL pool client error: ${error.message}`));
  }

  async q<R extends pg.QueryResultRow>(text: string, values: unknown[] = [], db: Queryable = this.pool): Promise<pg.QueryResult<R>> {
    if (this.closed) throw new StoreUnavailableError('PostgreSQL store is closed');
    try {
      return await db.query<R>(text, values);
    } catch (error) {
      throw mapError(error);
    }
  }

  /** Runs fn in a transaction on one pooled connection; retries serialization failures and deadlocks. */
  async tx<T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
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
        // A connection that timed out or failed is dropped, not rolled back: a ROLLBACK would queue behind the
        // statement that does not answer and wait a second deadline; the server rolls back when it goes.
        if (isUnavailable(error)) broken = true;
        else {
          try {
            await client.query('ROLLBACK');
          } catch {
            broken = true;
          }
        }
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
}
