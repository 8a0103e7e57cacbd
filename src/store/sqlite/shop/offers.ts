/**
 * Shop offers in SQLite: a row per (partner, offer, version), immutable, and a pointer per (partner, offer) to its
 * newest version. putOffers is one transaction: any conflict rolls back the whole call.
 */
import type { Offer, OfferRef } from '../../../domain/shop/records.js';
import { assertListLimit } from '../../shared/checks.js';
import { parseJson } from '../../shared/codec.js';
import { offerEntries } from '../../shared/shop.js';
import { OfferVersionConflictError } from '../../store.js';
import { SqliteConcern, type Db } from '../connection.js';

function prepareStatements(db: Db) {
  return {
    getOffer: db.prepare<[string, string, string], string>('SELECT data FROM shop_offers WHERE partner_id = ? AND offer_id = ? AND version = ?').pluck(),
    insertOffer: db.prepare<[string, string, string, string]>('INSERT INTO shop_offers (partner_id, offer_id, version, data) VALUES (?, ?, ?, ?)'),
    setNewest: db.prepare<[string, string, string]>(
      `INSERT INTO shop_offer_newest (partner_id, offer_id, version) VALUES (?, ?, ?)
       ON CONFLICT (partner_id, offer_id) DO UPDATE SET version = excluded.version`,
    ),
    getNewest: db.prepare<[string, string], string>(
      `SELECT o.data FROM shop_offer_newest n
       JOIN shop_offers o ON o.partner_id = n.partner_id AND o.offer_id = n.offer_id AND o.version = n.version
       WHERE n.partner_id = ? AND n.offer_id = ?`,
    ).pluck(),
    listNewest: db.prepare<[string, number], string>(
      `SELECT o.data FROM shop_offer_newest n
       JOIN shop_offers o ON o.partner_id = n.partner_id AND o.offer_id = n.offer_id AND o.version = n.version
       WHERE n.partner_id = ? ORDER BY n.offer_id LIMIT ?`,
    ).pluck(),
  };
}

export class SqliteShopOffers extends SqliteConcern<ReturnType<typeof prepareStatements>> {
  protected prepareStatements(db: Db) {
    return prepareStatements(db);
  }

  async putOffers(partnerId: string, offers: readonly Offer[]): Promise<void> {
    const entries = offerEntries(offers);
    if (entries.length === 0) return;
    await this.writes.writeTransaction(() => {
      for (const { offer, json } of entries) {
        const held = this.st.getOffer.get(partnerId, offer.id, offer.version);
        if (held !== undefined) {
          // the savepoint of writeTransaction undoes what this call wrote before
          if (held !== json) throw new OfferVersionConflictError({ id: offer.id, version: offer.version });
          continue;
        }
        this.st.insertOffer.run(partnerId, offer.id, offer.version, json);
        this.st.setNewest.run(partnerId, offer.id, offer.version);
      }
    });
  }

  async getOffer(partnerId: string, ref: OfferRef): Promise<Offer | null> {
    const json = this.conn.run(() => this.st.getOffer.get(partnerId, ref.id, ref.version));
    return json === undefined ? null : parseJson<Offer>(json);
  }

  async getNewestOffers(partnerId: string, ids: readonly string[]): Promise<Offer[]> {
    const out: Offer[] = [];
    this.conn.run(() => {
      for (const id of ids) {
        const json = this.st.getNewest.get(partnerId, id);
        if (json !== undefined) out.push(parseJson<Offer>(json));
      }
    });
    return out;
  }

  async listNewestOffers(partnerId: string, limit: number): Promise<Offer[]> {
    assertListLimit(limit);
    return this.conn.run(() => this.st.listNewest.all(partnerId, limit)).map((json) => parseJson<Offer>(json));
  }
}
