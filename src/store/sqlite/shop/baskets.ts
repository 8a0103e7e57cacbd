/**
 * Checkout baskets in SQLite: a row per (partner, basket id) with its version, status, times and the basket JSON,
 * and a row per (partner, external id) pointing to a basket.
 *
 * An update is one read → fn → write inside the group commit's IMMEDIATE transaction, which holds the file's write
 * lock: nothing can write between the read and the write, and the write is still conditional on the version read.
 * The abandoned listing reads the partial index shop_baskets_open (open baskets by partner, created, id).
 */
import type { ShopBasket } from '../../../domain/shop/records.js';
import { callerFn } from '../../shared/checks.js';
import { parseJson, toJson } from '../../shared/codec.js';
import { assertAbandonedQuery, assertPurgeLimit, assertSameShopBasketKey } from '../../shared/shop.js';
import type { AbandonedQuery, ShopBasketUpdater, StoredShopBasket } from '../../store.js';
import { SqliteConcern, type Db } from '../connection.js';

interface ShopBasketRow {
  version: number;
  data: string;
}

interface PurgedRow {
  partner_id: string;
  basket_id: string;
  external_id: string | null;
}

// The abandoned listing (exported for the test of their query plans). `status = 'open'` literally: it is what lets
// SQLite use the partial index. One lower bound per statement, so that the index search starts at it (given both,
// SQLite starts at `created > ?` and filters up to the cursor).
export const LIST_ABANDONED_FROM = `SELECT data FROM shop_baskets
  WHERE partner_id = ? AND status = 'open' AND created > ? AND expires > ?
  ORDER BY created, basket_id LIMIT ?`;
export const LIST_ABANDONED_AFTER = `SELECT data FROM shop_baskets
  WHERE partner_id = ? AND status = 'open' AND (created, basket_id) > (?, ?) AND expires > ?
  ORDER BY created, basket_id LIMIT ?`;

function prepareStatements(db: Db) {
  return {
    getBasket: db.prepare<[string, string], ShopBasketRow>('SELECT version, data FROM shop_baskets WHERE partner_id = ? AND basket_id = ?'),
    insertBasket: db.prepare<[string, string, string, string | null, number, number, string]>(
      `INSERT INTO shop_baskets (partner_id, basket_id, version, status, external_id, created, expires, data)
       VALUES (?, ?, 1, ?, ?, ?, ?, ?) ON CONFLICT (partner_id, basket_id) DO NOTHING`,
    ),
    updateBasket: db.prepare<[string, string | null, number, number, string, string, string, number]>(
      `UPDATE shop_baskets SET version = version + 1, status = ?, external_id = ?, created = ?, expires = ?, data = ?
       WHERE partner_id = ? AND basket_id = ? AND version = ?`,
    ),
    listAbandonedFrom: db.prepare<[string, number, number, number], string>(LIST_ABANDONED_FROM).pluck(),
    listAbandonedAfter: db.prepare<[string, number, string, number, number], string>(LIST_ABANDONED_AFTER).pluck(),
    expired: db.prepare<[number, number], PurgedRow>(
      'SELECT partner_id, basket_id, external_id FROM shop_baskets WHERE expires <= ? ORDER BY expires LIMIT ?',
    ),
    deleteBasket: db.prepare<[string, string]>('DELETE FROM shop_baskets WHERE partner_id = ? AND basket_id = ?'),
    getExternalId: db.prepare<[string, string], string>('SELECT basket_id FROM shop_external_ids WHERE partner_id = ? AND external_id = ?').pluck(),
    claimFree: db.prepare<[string, string, string]>(
      'INSERT INTO shop_external_ids (partner_id, external_id, basket_id) VALUES (?, ?, ?) ON CONFLICT (partner_id, external_id) DO NOTHING',
    ),
    claimFrom: db.prepare<[string, string, string, string]>(
      'UPDATE shop_external_ids SET basket_id = ? WHERE partner_id = ? AND external_id = ? AND basket_id = ?',
    ),
    dropExternalId: db.prepare<[string, string, string]>('DELETE FROM shop_external_ids WHERE partner_id = ? AND external_id = ? AND basket_id = ?'),
  };
}

export class SqliteShopBaskets extends SqliteConcern<ReturnType<typeof prepareStatements>> {
  protected prepareStatements(db: Db) {
    return prepareStatements(db);
  }

  async getShopBasket(partnerId: string, basketId: string): Promise<StoredShopBasket | null> {
    const row = this.conn.run(() => this.st.getBasket.get(partnerId, basketId));
    return row === undefined ? null : { basket: parseJson<ShopBasket>(row.data), version: row.version };
  }

  updateShopBasket<R>(partnerId: string, basketId: string, fn: ShopBasketUpdater<R>): Promise<R> {
    return this.writes.writeTransaction((): R => {
      const row = this.st.getBasket.get(partnerId, basketId);
      const current = row === undefined ? null : { basket: parseJson<ShopBasket>(row.data), version: row.version };
      const change = callerFn(() => fn(current));
      if ('keep' in change) return change.result;
      const { basket } = change;
      assertSameShopBasketKey(basket, partnerId, basketId);
      const json = toJson(basket);
      const written =
        row === undefined
          ? this.st.insertBasket.run(partnerId, basketId, basket.status, basket.externalId, basket.created, basket.expires, json)
          : this.st.updateBasket.run(basket.status, basket.externalId, basket.created, basket.expires, json, partnerId, basketId, row.version);
      // Under the write lock the row cannot have moved since it was read; a miss is a bug, not a race to retry.
      if (written.changes !== 1) throw new Error(`shop basket ${basketId} changed under the write lock`);
      return change.result;
    });
  }

  async getExternalId(partnerId: string, externalId: string): Promise<string | null> {
    return this.conn.run(() => this.st.getExternalId.get(partnerId, externalId)) ?? null;
  }

  claimExternalId(partnerId: string, externalId: string, basketId: string, expected: string | null): Promise<string> {
    return this.writes.writeTransaction((): string => {
      // A pointer that is gone (its basket was purged) is free again: see docs/decisions.md.
      if (expected !== null) this.st.claimFrom.run(basketId, partnerId, externalId, expected);
      this.st.claimFree.run(partnerId, externalId, basketId);
      const now = this.st.getExternalId.get(partnerId, externalId);
      if (now === undefined) throw new Error(`external id ${externalId} points nowhere after a claim`);
      return now;
    });
  }

  async listAbandoned(query: AbandonedQuery): Promise<ShopBasket[]> {
    assertAbandonedQuery(query);
    const { partnerId, createdAfter, after, now, limit } = query;
    // The later of the two lower bounds: a cursor at or before createdAfter is inside what createdAfter leaves out.
    const rows = this.conn.run(() =>
      after !== null && after.created > createdAfter
        ? this.st.listAbandonedAfter.all(partnerId, after.created, after.id, now, limit)
        : this.st.listAbandonedFrom.all(partnerId, createdAfter, now, limit),
    );
    return rows.map((json) => parseJson<ShopBasket>(json));
  }

  async purgeExpiredShopBaskets(now: number, limit: number): Promise<number> {
    assertPurgeLimit(limit);
    if (limit === 0) return 0;
    return this.writes.writeTransaction(() => {
      const victims = this.st.expired.all(now, limit);
      for (const v of victims) {
        this.st.deleteBasket.run(v.partner_id, v.basket_id);
        if (v.external_id !== null) this.st.dropExternalId.run(v.partner_id, v.external_id, v.basket_id);
      }
      return victims.length;
    });
  }
}
