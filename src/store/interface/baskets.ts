/** Baskets: one per (partner, user), read and changed by compare-and-set, purged once expired. */
import type { BasketState } from '../../domain/basket.js';

export interface BasketKey {
  partnerId: string;
  userId: string;
}

export interface StoredBasket {
  state: BasketState;
  /** 1 after a basket's first write, then one more on every write; the compare-and-set token (and the ETag). */
  version: number;
}

/** What an update function decides: write a new state, or keep the stored one (no write). */
export type BasketChange<R> = { state: BasketState; result: R } | { keep: true; result: R };

/**
 * Pure and synchronous: may run more than once when a concurrent write wins, so it must not have side
 * effects. Throwing aborts the update without writing; the error reaches the caller unchanged.
 */
export type BasketUpdater<R> = (current: StoredBasket | null) => BasketChange<R>;

/** How a change reached this process: written here, or reported by the store from another process. */
export interface BasketChangeSource {
  readonly remote: boolean;
}

/** `source` tells this process's writes (act on them once, e.g. webhooks) from other processes' (PostgreSQL, Redis). */
export type BasketChangeListener = (key: BasketKey, source: BasketChangeSource) => void;

export interface BasketStore {
  getBasket(key: BasketKey): Promise<StoredBasket | null>;
  /**
   * getBasket() without a promise, offered by a store whose reads never wait for I/O (SQLite, in process): the
   * hot GET answers in the turn its request arrived. Throws what getBasket() would reject with.
   */
  getBasketSync?(key: BasketKey): StoredBasket | null;
  /**
   * Reads the basket and its version, applies `fn`, and writes the new state only if the version is still the
   * one read (transaction, compare-and-set or script); on conflict it reads again and re-applies `fn`.
   * Returns `fn`'s result of the attempt that was committed.
   */
  updateBasket<R>(key: BasketKey, fn: BasketUpdater<R>): Promise<R>;
  /** Deletes up to `limit` baskets whose expiry is at or before `now` and that hold no checkout. */
  purgeExpiredBaskets(now: number, limit: number): Promise<number>;
  /** Called after every committed basket write (in this process, or in any process where the store can). */
  onBasketChange(listener: BasketChangeListener): () => void;
}
