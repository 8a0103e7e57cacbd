/**
 * Group commit of a SQLite store: every write waits here for the next commit.
 *
 * Basket updates that arrive in the same turn of the event loop share one IMMEDIATE transaction (each is still
 * its own read → fn → write, in arrival order), and every caller is answered after the commit. A commit costs far
 * more than the updates inside it, so a burst of "add to basket" pays it once. The other writes (transfer tokens,
 * stock, orders, outbox, idempotency records, the expiry purge) join the same groups; a multi-statement one runs in
 * a savepoint, so it fails alone too.
 *
 * Several processes may share the file: `BEGIN IMMEDIATE` takes the file's write lock before reading, so
 * processes serialize and no update is lost. A group commit that finds the lock taken does not wait in SQLite's
 * busy handler, which sleeps and so stops this process's event loop: it asks for the lock without waiting and,
 * refused, tries again on a later turn while the process goes on serving. Only a write that waited longer than the
 * lock timeout fails, with StoreUnavailableError.
 *
 * Durability: a commit is in the WAL file (the OS page cache) before a caller is answered, so a killed process
 * loses no acknowledged write even with synchronous=NORMAL; synchronous=FULL also survives power loss.
 */
import type Database from 'better-sqlite3';
import { StoreUnavailableError, type BasketKey, type BasketUpdater } from '../store.js';
import { isBusy, type SqliteConnection } from './connection.js';

/** Conflicts cannot happen under the IMMEDIATE lock; the bound only guards against a logic error looping. */
const MAX_UPDATE_TRIES = 50;
/** Most basket updates in one group commit: bounds how long one transaction holds the event loop. */
const MAX_GROUP = 128;

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

/** What one write of a group (a basket update or another write) did inside the group's transaction. */
export type Attempt<R> = { outcome: 'kept' | 'written'; result: R } | { outcome: 'conflict' } | { outcome: 'failed'; error: unknown };

/** How a basket update is tried inside a group, and what follows its commit (baskets.ts). */
export interface BasketWriter {
  /** One read → fn → conditional write, run inside the IMMEDIATE transaction of a group commit. */
  attempt(key: BasketKey, fn: BasketUpdater<unknown>): Attempt<unknown>;
  /** Called once the write of `key` is committed. */
  written(key: BasketKey): void;
}

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

export class GroupCommit {
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
  private readonly flushLater = () => this.flushUpdates();
  /** PRAGMA takes no bound parameters; the value is our own integer. */
  private readonly busyWaitPragma: string;
  /** Set by the basket module when the store is built (see BasketWriter). */
  private baskets: BasketWriter | null = null;

  constructor(private readonly conn: SqliteConnection) {
    this.busyWaitPragma = `PRAGMA busy_timeout = ${conn.lockTimeoutMs}`;
    this.groupCommit = conn.db.transaction((group: readonly PendingWrite[]) => {
      conn.checkDataVersion();
      return group.map((u) => this.attemptInGroup(u));
    });
    this.transaction = conn.db.transaction((body: () => unknown) => body());
  }

  /** The basket module tells how a basket update is tried and what follows its commit. */
  handleBaskets(writer: BasketWriter): void {
    this.baskets = writer;
  }

  /**
   * Whether a write failed only because another connection held the write lock (refused, or rarely rolled back by
   * SQLite for a lock it could not get): then nothing was written and it may be tried again.
   */
  private refusedLock(error: unknown): boolean {
    const cause = error instanceof GroupAborted ? error.error : error instanceof StoreUnavailableError ? error.cause : null;
    const { db } = this.conn;
    return isBusy(cause) && db.open && !db.inTransaction;
  }

  /**
   * A multi-statement body, all or nothing, committed with the next group (groupWrite()): inside the group's
   * IMMEDIATE transaction better-sqlite3 runs it in a savepoint of its own, so a body that throws leaves nothing
   * behind and fails alone. One wrapper serves every body: db.transaction() builds four wrapped functions per
   * call, ~4 % of a checkout's CPU when it was made per write.
   */
  writeTransaction<T>(body: () => T): Promise<T> {
    return this.groupWrite(() => this.transaction(body) as T);
  }

  /** Runs op with SQLite's busy handler off (exec, not a prepared statement: SQLite applies this pragma when it compiles it). */
  private withoutBusyWait<T>(op: () => T): T {
    this.conn.db.exec('PRAGMA busy_timeout = 0');
    try {
      return op();
    } finally {
      this.conn.db.exec(this.busyWaitPragma);
    }
  }

  /**
   * One update of a group: its failure is its own (a rule's domain error, or a statement SQLite undid by
   * itself) unless SQLite rolled back the whole transaction, which fails the group.
   */
  private attemptInGroup(u: PendingWrite): Attempt<unknown> {
    try {
      return u.kind === 'basket' ? this.baskets!.attempt(u.key, u.fn) : { outcome: 'written', result: u.run() };
    } catch (error) {
      if (!this.conn.db.inTransaction) throw new GroupAborted(error);
      return { outcome: 'failed', error };
    }
  }

  /** A basket update, committed with the next group. */
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
  groupWrite<T>(run: () => T): Promise<T> {
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
      attempts = this.conn.run(() => (block ? commit() : this.withoutBusyWait(commit)));
    } catch (error) {
      if (!block && this.refusedLock(error)) {
        this.waitForLock(group);
        return;
      }
      this.lockRetries = 0;
      if (this.pending.length > 0) this.scheduleFlush();
      const cause = error instanceof GroupAborted ? this.conn.mapError(error.error) : error;
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
          if (u.kind === 'basket') this.baskets!.written(u.key);
          u.resolve(attempt.result);
          break;
        case 'kept':
          u.resolve(attempt.result);
          break;
        case 'failed':
          u.reject(this.conn.mapError(attempt.error));
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
      if (now - u.lockWaitFrom >= this.conn.lockTimeoutMs) u.reject(new StoreUnavailableError('SQLite database is locked'));
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

  /** close(): an update waiting for another connection's lock is committed by drain(), waiting in the busy handler. */
  cancelLockRetry(): void {
    this.lockRetry?.cancel();
    this.lockRetry = null;
  }

  /** close(): updates already accepted are committed (or refused) before the handle goes. */
  drain(): void {
    while (this.pending.length > 0 && this.conn.db.open) this.flushUpdates(true);
  }
}
