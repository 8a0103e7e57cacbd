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
  get outboxPrefix(): string {
    return `${this.prefix}{ob}:`;
  }
  get schema(): string {
    return `${this.prefix}{meta}:schema`;
  }
}
