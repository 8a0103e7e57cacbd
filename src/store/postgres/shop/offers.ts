/**
 * Shop offers in PostgreSQL: a row per (partner, offer, version), immutable, and a pointer per (partner, offer) to its
 * newest version. putOffers is one transaction: a conflict rolls back the whole call.
 */
import type { Offer, OfferRef } from '../../../domain/shop/records.js';
import { assertListLimit } from '../../shared/checks.js';
import { offerEntries } from '../../shared/shop.js';
import { OfferVersionConflictError } from '../../store.js';
import type { PgConnection } from '../connection.js';

const NEWEST = `SELECT o.data FROM shop_offer_newest n
  JOIN shop_offers o ON o.partner_id = n.partner_id AND o.offer_id = n.offer_id AND o.version = n.version`;

export class PgShopOffers {
  constructor(private readonly conn: PgConnection) {}

  async putOffers(partnerId: string, offers: readonly Offer[]): Promise<void> {
    const entries = offerEntries(offers);
    if (entries.length === 0) return;
    await this.conn.tx(async (c) => {
      for (const { offer, json } of entries) {
        // ON CONFLICT waits for a concurrent load of the same version, then compares with what it committed
        const inserted = await c.query(
          `INSERT INTO shop_offers (partner_id, offer_id, version, data) VALUES ($1, $2, $3, $4::jsonb)
           ON CONFLICT (partner_id, offer_id, version) DO NOTHING`,
          [partnerId, offer.id, offer.version, json],
        );
        if (inserted.rowCount === 1) {
          await c.query(
            `INSERT INTO shop_offer_newest (partner_id, offer_id, version) VALUES ($1, $2, $3)
             ON CONFLICT (partner_id, offer_id) DO UPDATE SET version = EXCLUDED.version`,
            [partnerId, offer.id, offer.version],
          );
          continue;
        }
        const { rows } = await c.query<{ same: boolean }>(
          'SELECT data = $4::jsonb AS same FROM shop_offers WHERE partner_id = $1 AND offer_id = $2 AND version = $3',
          [partnerId, offer.id, offer.version, json],
        );
        if (rows[0]?.same !== true) throw new OfferVersionConflictError({ id: offer.id, version: offer.version });
      }
    });
  }

  async getOffer(partnerId: string, ref: OfferRef): Promise<Offer | null> {
    const { rows } = await this.conn.q<{ data: Offer }>(
      'SELECT data FROM shop_offers WHERE partner_id = $1 AND offer_id = $2 AND version = $3',
      [partnerId, ref.id, ref.version],
    );
    return rows[0]?.data ?? null;
  }

  async getNewestOffers(partnerId: string, ids: readonly string[]): Promise<Offer[]> {
    if (ids.length === 0) return [];
    const { rows } = await this.conn.q<{ data: Offer }>(`${NEWEST} WHERE n.partner_id = $1 AND n.offer_id = ANY($2::text[])`, [partnerId, [...ids]]);
    const byId = new Map(rows.map((r) => [r.data.id, r.data]));
    return ids.flatMap((id) => byId.get(id) ?? []);
  }

  async listNewestOffers(partnerId: string, limit: number): Promise<Offer[]> {
    assertListLimit(limit);
    const { rows } = await this.conn.q<{ data: Offer }>(`${NEWEST} WHERE n.partner_id = $1 ORDER BY n.offer_id LIMIT $2`, [partnerId, limit]);
    return rows.map((r) => r.data);
  }
}
