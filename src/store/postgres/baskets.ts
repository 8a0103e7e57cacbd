/**
 * Baskets in PostgreSQL: a row per (partner, user) with its version, expiry and state (JSONB).
 *
 * Concurrency: optimistic compare-and-set on `version` (`UPDATE ... WHERE version = $n`, `INSERT ... ON CONFLICT DO
 * NOTHING`). The reads of one turn are one statement, and so are the optimistic updates of one turn (TurnBatch).
 * After a few lost races an update switches to a short transaction with `SELECT ... FOR UPDATE`, so a hot basket
 * cannot starve a writer. Every committed write notifies (pg_notify) in the same statement (notifications.ts).
 */
import type { BasketState } from '../../domain/basket.js';
import { callerFn } from '../shared/checks.js';
import { encodeChange, hasCheckout, toJson } from '../shared/codec.js';
import { KeyedSerializer } from '../shared/serial.js';
import { TurnBatch } from '../shared/turn-batch.js';
import {
  StoreUnavailableError,
  type BasketChangeListener,
  type BasketKey,
  type BasketStore,
  type BasketUpdater,
  type StoredBasket,
} from '../store.js';
import { jitter, mapError, type PgConnection, type Queryable } from './connection.js';
import type { PgNotifications } from './notifications.js';

/** Optimistic attempts before an update takes the row lock instead. */
const OPTIMISTIC_TRIES = 4;
/** Most basket reads, or optimistic updates, answered together (one statement each). */
const MAX_BATCH = 256;
const MAX_UPDATE_TRIES = 50;

interface BasketRow {
  version: number;
  data: BasketState;
}

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

export class PgBaskets implements BasketStore {
  /** Same-basket writes of this process queue here, so that they do not fight each other for the row. */
  private readonly serial = new KeyedSerializer();
  /** Basket reads of one turn, answered together (getBasket). */
  private readonly reads = new TurnBatch<BatchedRead>(MAX_BATCH, (batch) => void this.readBatch(batch));
  /** Optimistic basket updates of one turn, read and written together (optimisticAttempt). */
  private readonly updates = new TurnBatch<BatchedUpdate>(MAX_BATCH, (batch) => void this.writeBatch(batch));
  private readonly channel: string;
  private readonly origin: string;

  constructor(
    private readonly conn: PgConnection,
    private readonly notifications: PgNotifications,
  ) {
    this.channel = notifications.channel;
    this.origin = notifications.origin;
  }

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
    const { rows } = await this.conn.q<BasketRow & { i: string }>(
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
    const { rowCount } = await this.conn.q(sql, expected === null ? params : [...params, expected], db);
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
      if (outcome.written) this.notifications.listeners.emit(key);
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
      const written = await this.conn.q<{ p: string; u: string }>(WRITE_BATCH_SQL, [`[${parts.join(',')}]`, this.channel]);
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
    return this.conn.tx(async (c) => {
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
    const { rowCount } = await this.conn.q(
      `DELETE FROM baskets b USING (
         SELECT partner_id, user_id FROM baskets WHERE NOT has_checkout AND expires <= $1
         LIMIT $2 FOR UPDATE SKIP LOCKED) d
       WHERE b.partner_id = d.partner_id AND b.user_id = d.user_id AND NOT b.has_checkout AND b.expires <= $1`,
      [now, limit],
    );
    return rowCount ?? 0;
  }

  onBasketChange(listener: BasketChangeListener): () => void {
    return this.notifications.listeners.add(listener);
  }
}
