/**
 * The one better-sqlite3 connection of a SQLite store, and what every concern module runs its statements through.
 *
 * Shared reads: the hot reads (baskets, products) of one turn of the event loop share one read transaction,
 * opened by the first and committed when the turn ends (setImmediate) or before anything else touches the
 * database. A read transaction takes and drops file locks (system calls) that cost more than the lookup itself.
 * This process's writes end it first, so it never hides them; another process's write committed during the same
 * turn may be missed by reads until the turn ends (docs/decisions.md). Updates always read inside their own
 * IMMEDIATE transaction (group-commit.ts).
 *
 * Basket cache: baskets read are kept parsed (and frozen) for the next reads and updates, as long as no other
 * connection has committed: every transaction first checks `PRAGMA data_version`, which changes only on another
 * connection's commit, and empties the cache when it has. The cache lives here because that check does; the
 * basket module (baskets.ts) fills it and drops what it writes.
 */
import type { GroupCommit } from './group-commit.js';
import Database from 'better-sqlite3';
import { CallerError } from '../shared/checks.js';
import { StoreUnavailableError, type StoredBasket } from '../store.js';

export type Db = Database.Database;

export function isBusy(error: unknown): boolean {
  return (
    error instanceof Database.SqliteError &&
    (error.code.startsWith('SQLITE_BUSY') || error.code.startsWith('SQLITE_LOCKED'))
  );
}

export function isUniqueViolation(error: unknown): boolean {
  return (
    error instanceof Database.SqliteError &&
    (error.code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || error.code === 'SQLITE_CONSTRAINT_UNIQUE')
  );
}

/** The statements of the connection itself: they name no table, so they do not wait for the migrations. */
function prepareStatements(db: Db) {
  return {
    ping: db.prepare<[], unknown>('SELECT 1'),
    beginRead: db.prepare<[]>('BEGIN DEFERRED'),
    dataVersion: db.prepare<[], number>('PRAGMA data_version').pluck(),
    endRead: db.prepare<[]>('COMMIT'),
  };
}

type Statements = ReturnType<typeof prepareStatements>;

export class SqliteConnection {
  /** Prepared by init(), as those of the concern modules. */
  private statements: Statements | null = null;
  /** Whether the shared read transaction of this turn is open (see read()). */
  private readOpen = false;
  private readonly endReadLater = () => this.endRead();
  /** Parsed baskets by basket cache key, valid for data_version `cachedVersion` (see the module comment). */
  readonly basketCache = new Map<string, StoredBasket>();
  private cachedVersion = -1;

  constructor(
    readonly db: Db,
    /** How long a write waits for another connection's write lock before failing. */
    readonly lockTimeoutMs: number,
  ) {}

  prepare(): void {
    this.statements ??= prepareStatements(this.db);
  }

  private get st(): Statements {
    if (this.statements === null) throw new Error('SQLite store used before init()');
    return this.statements;
  }

  /**
   * Runs a synchronous database operation, turning lock timeouts and a closed handle into
   * StoreUnavailableError. Any other error (including one thrown by a caller's fn) passes through unchanged.
   */
  run<T>(op: () => T): T {
    try {
      this.endRead();
      return op();
    } catch (error) {
      throw this.mapError(error);
    }
  }

  /**
   * Runs a read-only lookup inside the turn's shared read transaction, opening it if needed. Only for single
   * statements that write nothing: any other operation goes through run(), which ends the read transaction.
   */
  read<T>(op: () => T): T {
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
  checkDataVersion(): void {
    const dataVersion = this.st.dataVersion.get()!;
    if (dataVersion !== this.cachedVersion) {
      this.basketCache.clear();
      this.cachedVersion = dataVersion;
    }
  }

  endRead(): void {
    if (!this.readOpen) return;
    this.readOpen = false;
    if (this.db.open && this.db.inTransaction) this.st.endRead.run();
  }

  mapError(error: unknown): unknown {
    if (error instanceof CallerError) return error.error;
    if (isBusy(error)) return new StoreUnavailableError('SQLite database is locked', { cause: error });
    if (!this.db.open) return new StoreUnavailableError('SQLite store is closed', { cause: error });
    return error;
  }

  ping(): void {
    this.run(() => this.st.ping.get());
  }
}

/**
 * A concern module's prepared statements: made by init(), since they name tables that only exist once the
 * schema is migrated; every statement is prepared once.
 */
export abstract class SqliteConcern<S> {
  private statements: S | null = null;

  constructor(
    protected readonly conn: SqliteConnection,
    /** Every write of a concern goes through the group commit. */
    protected readonly writes: GroupCommit,
  ) {}

  protected abstract prepareStatements(db: Db): S;

  prepare(): void {
    this.statements ??= this.prepareStatements(this.conn.db);
  }

  protected get st(): S {
    if (this.statements === null) throw new Error('SQLite store used before init()');
    return this.statements;
  }
}
