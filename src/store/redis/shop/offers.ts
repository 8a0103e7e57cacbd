/**
 * Shop offers in Redis, in the partner's shop slot: a hash of every version, a hash of each offer's newest version
 * and a zset of offer ids (for listing in id order). putOffers is one script: all or nothing.
 */
import type { Offer, OfferRef } from '../../../domain/shop/records.js';
import { assertListLimit } from '../../shared/checks.js';
import { parseJson } from '../../shared/codec.js';
import { offerEntries } from '../../shared/shop.js';
import { OfferVersionConflictError } from '../../store.js';
import { list, num, str, type RedisConnection } from '../connection.js';
import * as scripts from '../scripts/index.js';

/** The field of a version in the offers hash; length-prefixed, so no id and version can run into another pair. */
function field(id: string, version: string): string {
  return `${Buffer.byteLength(id)}:${id}${version}`;
}

export class RedisShopOffers {
  constructor(private readonly conn: RedisConnection) {}

  private keys(partnerId: string): string[] {
    const k = this.conn.keys;
    return [k.shop(partnerId, 'offers'), k.shop(partnerId, 'offer-newest'), k.shop(partnerId, 'offer-ids')];
  }

  async putOffers(partnerId: string, offers: readonly Offer[]): Promise<void> {
    const entries = offerEntries(offers);
    if (entries.length === 0) return;
    const args = entries.flatMap(({ offer, json }) => [field(offer.id, offer.version), offer.id, offer.version, json]);
    const conflict = num(await this.conn.script(scripts.SHOP_OFFERS_PUT, this.keys(partnerId), [entries.length, ...args]));
    const entry = entries[conflict - 1];
    if (entry !== undefined) throw new OfferVersionConflictError({ id: entry.offer.id, version: entry.offer.version });
  }

  async getOffer(partnerId: string, ref: OfferRef): Promise<Offer | null> {
    const json = await this.conn.cmd((c) => c.hget(this.conn.keys.shop(partnerId, 'offers'), field(ref.id, ref.version)));
    return json === null ? null : parseJson<Offer>(json);
  }

  async getNewestOffers(partnerId: string, ids: readonly string[]): Promise<Offer[]> {
    if (ids.length === 0) return [];
    const [offers, newest] = this.keys(partnerId);
    const found = list(await this.conn.script(scripts.SHOP_OFFERS_NEWEST, [offers!, newest!], ids));
    return found.flatMap((json) => {
      const text = str(json);
      return text === null ? [] : [parseJson<Offer>(text)];
    });
  }

  async listNewestOffers(partnerId: string, limit: number): Promise<Offer[]> {
    assertListLimit(limit);
    const ids = await this.conn.cmd((c) => c.zrange(this.conn.keys.shop(partnerId, 'offer-ids'), 0, limit - 1));
    return this.getNewestOffers(partnerId, ids);
  }
}
