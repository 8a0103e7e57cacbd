/**
 * Baskets in SQLite: one row per (partner, user) with its version, expiry and state JSON.
 *
 * Reads run in the turn's shared read transaction and are kept parsed in the basket cache (connection.ts).
 * Updates go through the group commit (group-commit.ts): each is one read → fn → write, conditional on the version
 * read, inside the group's IMMEDIATE transaction. An update uses the cached state only if its version is the row's;
 * a write drops the basket it wrote, a purge empties the cache.
 */
import type { BasketState } from '../../domain/basket.js';
import { callerFn } from '../shared/checks.js';
import { hasCheckout, parseJson, toJson } from '../shared/codec.js';
import { BasketChangeListeners } from '../shared/listeners.js';
import type { BasketChangeListener, BasketKey, BasketStore, BasketUpdater, StoredBasket } from '../store.js';
import { SqliteConcern, type Db, type SqliteConnection } from './connection.js';
import type { Attempt, BasketWriter, GroupCommit } from './group-commit.js';
import { expiresHour } from './schema.js';

/** Most parsed baskets kept for reads (a few MB): the active audience of a live show, not every basket. */
const BASKET_CACHE_ENTRIES = 10_000;

interface BasketRow {
  version: number;
  data: string;
}
/** What the write path reads: the row and what the purge index holds of it. */
interface BasketWriteRow extends BasketRow {
  has_checkout: number;
  expires_hour: number;
}

function prepareStatements(db: Db) {
  return {
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
  };
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

export class SqliteBaskets extends SqliteConcern<ReturnType<typeof prepareStatements>> implements BasketStore, BasketWriter {
  /** In-process only: SQLite has no notification channel, so writes by other processes are not seen here. */
  private readonly listeners = new BasketChangeListeners();
  private readonly cache: Map<string, StoredBasket>;

  constructor(conn: SqliteConnection, writes: GroupCommit) {
    super(conn, writes);
    this.cache = conn.basketCache;
    writes.handleBaskets(this);
  }

  protected prepareStatements(db: Db) {
    return prepareStatements(db);
  }

  async getBasket(key: BasketKey): Promise<StoredBasket | null> {
    return this.getBasketSync(key);
  }

  getBasketSync(key: BasketKey): StoredBasket | null {
    return this.conn.read(() => {
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
  attempt(key: BasketKey, fn: BasketUpdater<unknown>): Attempt<unknown> {
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

  written(key: BasketKey): void {
    // Dropped, not replaced by the state written: keeping every written state alive until its next write
    // cost more (old-generation garbage collection) than the parse it saved (measured: assign −10 %).
    this.cache.delete(cacheKey(key));
    this.listeners.emit(key);
  }

  updateBasket<R>(key: BasketKey, fn: BasketUpdater<R>): Promise<R> {
    return this.writes.updateBasket(key, fn);
  }

  async purgeExpiredBaskets(now: number, limit: number): Promise<number> {
    const purged = await this.writes.groupWrite(() => this.st.purgeBaskets.run(expiresHour(now), now, limit).changes);
    if (purged > 0) this.cache.clear();
    return purged;
  }

  onBasketChange(listener: BasketChangeListener): () => void {
    return this.listeners.add(listener);
  }
}
