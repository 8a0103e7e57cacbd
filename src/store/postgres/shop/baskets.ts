/**
 * Checkout baskets in PostgreSQL: a row per (partner, basket id) with its version, status, times and the basket as
 * JSONB, and a row per (partner, external id) pointing to a basket.
 *
 * Concurrency: optimistic compare-and-set on `version` (`UPDATE ... WHERE version = $n`, `INSERT ... ON CONFLICT DO
 * NOTHING`); after a few lost races an update takes the row lock (`SELECT ... FOR UPDATE`), so that a busy basket
 * cannot starve a writer. The abandoned listing reads the partial index shop_baskets_open.
 */
import type { ShopBasket } from '../../../domain/shop/records.js';
import { callerFn } from '../../shared/checks.js';
import { toJson } from '../../shared/codec.js';
import { assertAbandonedQuery, assertPurgeLimit, assertSameShopBasketKey } from '../../shared/shop.js';
import { StoreUnavailableError, type AbandonedQuery, type ShopBasketChange, type ShopBasketUpdater, type StoredShopBasket } from '../../store.js';
import { jitter, mapError, type PgConnection, type Queryable } from '../connection.js';

/** Optimistic attempts before an update takes the row lock instead. */
const OPTIMISTIC_TRIES = 4;
const MAX_UPDATE_TRIES = 50;

interface Row {
  version: number;
  data: ShopBasket;
}

type Attempt<R> = { done: true; result: R } | { done: false };

// The abandoned listing (exported for the test of their query plans): shop_baskets_open in (created, id) order, no
// sort. One lower bound per statement, the later of createdAfter and the cursor, so that the index scan starts at it.
// `status = 'open'` literally: it is what matches the partial index.
export const LIST_ABANDONED_FROM = `SELECT data FROM shop_baskets
  WHERE partner_id = $1 AND status = 'open' AND created > $2 AND expires > $3
  ORDER BY created, basket_id LIMIT $4`;
export const LIST_ABANDONED_AFTER = `SELECT data FROM shop_baskets
  WHERE partner_id = $1 AND status = 'open' AND (created, basket_id) > ($2, $3) AND expires > $4
  ORDER BY created, basket_id LIMIT $5`;

export class PgShopBaskets {
  constructor(private readonly conn: PgConnection) {}

  async getShopBasket(partnerId: string, basketId: string): Promise<StoredShopBasket | null> {
    const { rows } = await this.conn.q<Row>('SELECT version, data FROM shop_baskets WHERE partner_id = $1 AND basket_id = $2', [partnerId, basketId]);
    const row = rows[0];
    return row === undefined ? null : { basket: row.data, version: row.version };
  }

  async updateShopBasket<R>(partnerId: string, basketId: string, fn: ShopBasketUpdater<R>): Promise<R> {
    for (let attempt = 0; attempt < MAX_UPDATE_TRIES; attempt++) {
      if (attempt > 0) await jitter(attempt);
      const outcome =
        attempt < OPTIMISTIC_TRIES
          ? await this.attempt(this.conn.pool, partnerId, basketId, fn, '')
          : await this.conn.tx((c) => this.attempt(c, partnerId, basketId, fn, ' FOR UPDATE'));
      if (outcome.done) return outcome.result;
    }
    throw new StoreUnavailableError(`shop basket update kept conflicting after ${MAX_UPDATE_TRIES} tries`);
  }

  /** One read → fn → conditional write; not done when another write came between the read and the write. */
  private async attempt<R>(db: Queryable, partnerId: string, basketId: string, fn: ShopBasketUpdater<R>, lock: string): Promise<Attempt<R>> {
    const { rows } = await this.conn.q<Row>(`SELECT version, data FROM shop_baskets WHERE partner_id = $1 AND basket_id = $2${lock}`, [partnerId, basketId], db);
    const row = rows[0];
    let change: ShopBasketChange<R>;
    try {
      change = callerFn(() => fn(row === undefined ? null : { basket: row.data, version: row.version }));
    } catch (error) {
      throw mapError(error);
    }
    if ('keep' in change) return { done: true, result: change.result };
    const { basket } = change;
    assertSameShopBasketKey(basket, partnerId, basketId);
    const values = [partnerId, basketId, basket.status, basket.externalId, basket.created, basket.expires, toJson(basket)];
    const written =
      row === undefined
        ? await this.conn.q(
            `INSERT INTO shop_baskets (partner_id, basket_id, version, status, external_id, created, expires, data)
             VALUES ($1, $2, 1, $3, $4, $5, $6, $7::jsonb) ON CONFLICT (partner_id, basket_id) DO NOTHING`,
            values,
            db,
          )
        : await this.conn.q(
            `UPDATE shop_baskets SET version = version + 1, status = $3, external_id = $4, created = $5, expires = $6, data = $7::jsonb
             WHERE partner_id = $1 AND basket_id = $2 AND version = $8`,
            [...values, row.version],
            db,
          );
    return written.rowCount === 1 ? { done: true, result: change.result } : { done: false };
  }

  async getExternalId(partnerId: string, externalId: string): Promise<string | null> {
    const { rows } = await this.conn.q<{ basket_id: string }>(
      'SELECT basket_id FROM shop_external_ids WHERE partner_id = $1 AND external_id = $2',
      [partnerId, externalId],
    );
    return rows[0]?.basket_id ?? null;
  }

  async claimExternalId(partnerId: string, externalId: string, basketId: string, expected: string | null): Promise<string> {
    for (let attempt = 0; attempt < MAX_UPDATE_TRIES; attempt++) {
      if (expected !== null) {
        // the row lock makes concurrent claimers from `expected` queue; the later ones see it moved
        const moved = await this.conn.q(
          'UPDATE shop_external_ids SET basket_id = $3 WHERE partner_id = $1 AND external_id = $2 AND basket_id = $4',
          [partnerId, externalId, basketId, expected],
        );
        if (moved.rowCount === 1) return basketId;
      }
      // A pointer that is gone (its basket was purged) is free again: see docs/decisions.md.
      const inserted = await this.conn.q(
        `INSERT INTO shop_external_ids (partner_id, external_id, basket_id) VALUES ($1, $2, $3)
         ON CONFLICT (partner_id, external_id) DO NOTHING`,
        [partnerId, externalId, basketId],
      );
      if (inserted.rowCount === 1) return basketId;
      const current = await this.getExternalId(partnerId, externalId);
      // null: purged between the insert and this read; claim again
      if (current !== null) return current;
    }
    throw new StoreUnavailableError(`external id claim kept conflicting after ${MAX_UPDATE_TRIES} tries`);
  }

  async listAbandoned(query: AbandonedQuery): Promise<ShopBasket[]> {
    assertAbandonedQuery(query);
    const { partnerId, createdAfter, after, now, limit } = query;
    // the later of the two bounds: a cursor at or before createdAfter is inside what createdAfter leaves out
    const { rows } =
      after !== null && after.created > createdAfter
        ? await this.conn.q<{ data: ShopBasket }>(LIST_ABANDONED_AFTER, [partnerId, after.created, after.id, now, limit])
        : await this.conn.q<{ data: ShopBasket }>(LIST_ABANDONED_FROM, [partnerId, createdAfter, now, limit]);
    return rows.map((r) => r.data);
  }

  async purgeExpiredShopBaskets(now: number, limit: number): Promise<number> {
    assertPurgeLimit(limit);
    if (limit === 0) return 0;
    // One statement: the baskets, and the external ids still pointing to them. SKIP LOCKED: processes sweeping at
    // once take different baskets, and a basket being written is left for the next pass.
    const { rows } = await this.conn.q<{ n: number }>(
      `WITH victims AS (
         SELECT partner_id, basket_id FROM shop_baskets WHERE expires <= $1 ORDER BY expires LIMIT $2 FOR UPDATE SKIP LOCKED
       ), deleted AS (
         DELETE FROM shop_baskets b USING victims v WHERE b.partner_id = v.partner_id AND b.basket_id = v.basket_id
         RETURNING b.partner_id, b.basket_id, b.external_id
       ), unlinked AS (
         DELETE FROM shop_external_ids e USING deleted d
         WHERE e.partner_id = d.partner_id AND e.external_id = d.external_id AND e.basket_id = d.basket_id
       )
       SELECT count(*)::int AS n FROM deleted`,
      [now, limit],
    );
    return rows[0]?.n ?? 0;
  }
}
