/**
 * The Redis key layout. Every key starts with the configured prefix, default `basket:`; ids are URI-encoded so that
 * a `{`, `}` or `:` in an id can never change a hash tag:
 *   {p:<partner>:u:<user>}:basket       hash v (version), d (state JSON), e (expires), c (has checkout)
 *   {p:<partner>:u:<user>}:comfort      string (JSON)
 *   {s:<partner>:<product>}:stock       hash d (product JSON), s (stock, '' = unlimited), r (reserved)
 *   {s:<partner>:<product>}:line:<res>  hash o (outcome of this line), st (state) — one per reservation line
 *   {r:<partner>:<res>}:reservation     hash st, req (requested lines), out (outcome)
 *   {c:<partner>}:catalogue             flag: the partner has products
 *   {o:<partner>}:order:<orderNo>       string (order JSON)
 *   {o:<partner>}:user:<user>           zset of the user's order numbers, score = created
 *   {pay:<provider>:<ref>}              string: [partner, orderNo] of the order with that payment reference
 *   {t:<tokenHash>}                     hash: a transfer token
 *   {i:<scope>:<key>}                   hash: an idempotency record
 *   {gc}:baskets|transfers|idem         zsets: expiry indexes for the purge methods
 *   {ev:<partner>}:events               stream: the partner's tracking events, id = event time (ms)-seq, field e (JSON)
 *   {evp}:partners                      set: partner ids that have an event stream (for the purge)
 *   {ob}:...                            the outbox (one slot: see docs/scaling.md)
 *   {meta}:schema                       the version of this layout
 * The shop's store (shop/): a hash tag per partner for what one script changes together, one per checkout basket:
 *   {sh:<partner>}:offers               hash: `<id's UTF-8 length>:<id><version>` → offer (canonical JSON)
 *   {sh:<partner>}:offer-newest         hash: offer id → its newest version
 *   {sh:<partner>}:offer-ids            zset (scores 0): offer ids, listed in id order
 *   {sb:<partner>:<basket>}:basket      hash v (version), d (basket JSON), e (expires)
 *   {sh:<partner>}:open                 zset (scores 0): the abandoned index, member `<created, 16 digits>:<basket id>`
 *   {sh:<partner>}:open-v               hash: basket id → `<version> <member>` of the last index change applied
 *   {sh:<partner>}:ext:<externalId>     string: the basket id the external id points to
 *   {sh:<partner>}:order:<orderId>      string (shop order JSON)
 *   {shpay:<provider>:<ref>}            string: [partner, orderId] of the shop order with that payment reference
 *   {sh:<partner>}:sub:<id>             string (subscription JSON)
 *   {sh:<partner>}:sub-names            hash: subscription name → id
 *   {gc}:shop-baskets                   zset: checkout basket expiry index, member JSON [partner, basket id]
 */
import type { BasketKey } from '../store.js';

const enc = (s: string): string => encodeURIComponent(s);

export class RedisKeys {
  constructor(readonly prefix: string) {}

  basket(k: BasketKey): string {
    return `${this.prefix}{p:${enc(k.partnerId)}:u:${enc(k.userId)}}:basket`;
  }
  comfort(k: BasketKey): string {
    return `${this.prefix}{p:${enc(k.partnerId)}:u:${enc(k.userId)}}:comfort`;
  }
  stock(partnerId: string, productId: string): string {
    return `${this.prefix}{s:${enc(partnerId)}:${enc(productId)}}:stock`;
  }
  line(partnerId: string, productId: string, reservationId: string): string {
    return `${this.prefix}{s:${enc(partnerId)}:${enc(productId)}}:line:${enc(reservationId)}`;
  }
  reservation(partnerId: string, reservationId: string): string {
    return `${this.prefix}{r:${enc(partnerId)}:${enc(reservationId)}}:reservation`;
  }
  catalogue(partnerId: string): string {
    return `${this.prefix}{c:${enc(partnerId)}}:catalogue`;
  }
  order(partnerId: string, orderNo: string): string {
    return `${this.prefix}{o:${enc(partnerId)}}:order:${enc(orderNo)}`;
  }
  userOrders(partnerId: string, userId: string): string {
    return `${this.prefix}{o:${enc(partnerId)}}:user:${enc(userId)}`;
  }
  paymentRef(provider: string, ref: string): string {
    return `${this.prefix}{pay:${enc(provider)}:${enc(ref)}}`;
  }
  transfer(tokenHash: string): string {
    return `${this.prefix}{t:${enc(tokenHash)}}`;
  }
  idempotency(scope: string, key: string): string {
    return `${this.prefix}{i:${enc(scope)}:${enc(key)}}`;
  }
  events(partnerId: string): string {
    return `${this.prefix}{ev:${enc(partnerId)}}:events`;
  }
  get eventPartners(): string {
    return `${this.prefix}{evp}:partners`;
  }
  gc(kind: 'baskets' | 'transfers' | 'idem'): string {
    return `${this.prefix}{gc}:${kind}`;
  }
  shopBasket(partnerId: string, basketId: string): string {
    return `${this.prefix}{sb:${enc(partnerId)}:${enc(basketId)}}:basket`;
  }
  /** A key of the partner's shop slot: offers, open, open-v, sub-names, or `<kind>:<encoded id>`. */
  shop(partnerId: string, name: string): string {
    return `${this.prefix}{sh:${enc(partnerId)}}:${name}`;
  }
  shopExternalId(partnerId: string, externalId: string): string {
    return this.shop(partnerId, `ext:${enc(externalId)}`);
  }
  shopOrder(partnerId: string, orderId: string): string {
    return this.shop(partnerId, `order:${enc(orderId)}`);
  }
  shopPaymentRef(provider: string, ref: string): string {
    return `${this.prefix}{shpay:${enc(provider)}:${enc(ref)}}`;
  }
  subscription(partnerId: string, id: string): string {
    return this.shop(partnerId, `sub:${enc(id)}`);
  }
  get shopBasketExpiry(): string {
    return `${this.prefix}{gc}:shop-baskets`;
  }
  get outboxPrefix(): string {
    return `${this.prefix}{ob}:`;
  }
  get schema(): string {
    return `${this.prefix}{meta}:schema`;
  }
}
