/**
 * Checkout sessions (spec §3.9, §3.10): start (cart → checkout, stock reserved, order created, payment created),
 * finish (ordered / aborted) and expiry. The crash-safety design is in docs/checkout.md; in short:
 *
 * - Before anything is reserved a durable delayed outbox message `checkout.expire` (key = session id) is queued
 *   for the session's expiry, so every reservation has something that will release it.
 * - The outcome of a session is decided once, first writer wins, in an idempotency record used as a register
 *   (scope `session:<partner>`, key = session id, fingerprint = `ordered` | `aborted`). Every party that ends a
 *   session (finish, expiry, the Stripe webhook, a failed start) claims an outcome there and then runs the same
 *   idempotent steps for the outcome that won. (The Store interface has no session record; this is the
 *   service-layer workaround.)
 * - A settled reservation (committed, or returned after it / released) is the final word and takes precedence over
 *   the register.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { PartnerConfig } from '../config.js';
import type { BasketState, CheckoutLine, CheckoutSessionRef, Line } from '../domain/basket.js';
import { anyReserved, beginCheckout, commonCurrency, computeTotals, endCheckout, type SessionOutcome } from '../domain/checkout.js';
import { BasketError } from '../domain/errors.js';
import { confirmedByWebhook, PspError, type PspRegistry } from '../psp/psp.js';
import type {
  BasketStore,
  CatalogueStore,
  ComfortStore,
  EventAttribution,
  IdempotencyStore,
  Order,
  OrderLine,
  OrderStore,
  OutboxStore,
  ReservationStore,
} from '../store/store.js';
import type { BasketOwner, BasketService, VersionedBasket } from './baskets.js';
import { checkPrecondition, type Precondition } from '../domain/versions.js';
import { NO_ATTRIBUTION, type EventRecorder } from './events.js';

export const TOPIC_EXPIRE = 'checkout.expire';
export const TOPIC_ORDER = 'order.process';
/** An order left `pending_payment` after its session ended as ordered: its PSP's confirmation is due by then. */
export const TOPIC_PAYMENT_DEADLINE = 'order.payment-deadline';

export interface ExpirePayload {
  partnerId: string;
  userId: string;
  guest: boolean;
  sessionId: string;
  orderNo: string;
}

export interface OrderPayload {
  partnerId: string;
  orderNo: string;
  /** `ordered`: the session was ordered (PSPs without webhook); `paid`: the PSP confirmed the payment. */
  event: 'ordered' | 'paid';
}

export interface PaymentDeadlinePayload {
  partnerId: string;
  orderNo: string;
}

export interface StartInput {
  testMode: boolean | null;
  language: string | null;
  country: string | null;
  usingSdk: boolean;
}

export interface StartResult {
  order: Order;
  checkout: CheckoutLine[];
  expires: number;
  /** The basket's version once the cart moved to checkout (its ETag). */
  basketVersion: number;
}

export interface Logger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

const silent: Logger = { info() {}, warn() {}, error() {} };

/** What a checkout touches: baskets and stock, orders, the outbox (expiry), idempotency records and comfort settings. */
export type CheckoutStore = BasketStore & CatalogueStore & ReservationStore & OrderStore & OutboxStore & IdempotencyStore & ComfortStore;

export interface CheckoutServiceOptions {
  store: CheckoutStore;
  baskets: BasketService;
  psps: PspRegistry;
  partner: (partnerId: string) => PartnerConfig | undefined;
  checkoutMs: number;
  idempotencyMs: number;
  /** How long a webhook-confirmed order may stay unpaid after its session ended as ordered (PAYMENT_TTL). */
  paymentMs: number;
  now?: () => number;
  log?: Logger;
  /** Checkout starts and finishes and order outcomes record tracking events (issue 23); absent: none. */
  events?: EventRecorder;
}

const CLAIM_LEASE_MS = 60_000;

/**
 * How long a checkout start holds its basket against other starts (a record in the store; released when the start
 * ends). Longer than a start with Stripe's timeout and one retry; a process that dies mid-start blocks its user's
 * next start for at most this long.
 */
const START_LEASE_MS = 60_000;

/**
 * The order's payment fields with the payment's final status, as Stripe names it: they are the provider's answer
 * at the start, and an order ordered, paid or cancelled must not keep showing `requires_confirmation`. An order
 * whose payment was never created keeps its (empty) fields.
 */
function paymentSettled(o: Order, status: 'succeeded' | 'canceled'): Record<string, unknown> {
  return o.paymentRef === null ? o.payment : { ...o.payment, status };
}

/** Order numbers: B-<yyyymmdd>-<10 random base32 characters>, unique per partner (createOrder enforces it). */
export function newOrderNo(now: number): string {
  const day = new Date(now).toISOString().slice(0, 10).replace(/-/g, '');
  const alphabet = 'ABCDEFGHJKMNPQRSTUVWXYZ23456789';
  const bytes = randomBytes(10);
  let s = '';
  for (const b of bytes) s += alphabet[b % alphabet.length];
  return `B-${day}-${s}`;
}

export class CheckoutService {
  readonly store: CheckoutStore;
  readonly baskets: BasketService;
  readonly psps: PspRegistry;
  private readonly partnerOf: (partnerId: string) => PartnerConfig | undefined;
  private readonly checkoutMs: number;
  private readonly idempotencyMs: number;
  private readonly paymentMs: number;
  readonly now: () => number;
  private readonly log: Logger;
  private readonly events: EventRecorder | null;

  constructor(opts: CheckoutServiceOptions) {
    this.store = opts.store;
    this.baskets = opts.baskets;
    this.psps = opts.psps;
    this.partnerOf = opts.partner;
    this.checkoutMs = opts.checkoutMs;
    this.idempotencyMs = opts.idempotencyMs;
    this.paymentMs = opts.paymentMs;
    this.now = opts.now ?? Date.now;
    this.log = opts.log ?? silent;
    this.events = opts.events ?? null;
  }

  /**
   * Records an event of an order (awaited: checkout and orders are rare, and what a partner is paid for). The
   * order's outcome events carry the attribution of its checkout's start.
   */
  private async orderEvent(order: Order, action: 'checkout_start' | 'checkout_finish' | 'order_paid' | 'order_cancelled', outcome: string | null = null): Promise<void> {
    await this.events?.record(order.partnerId, order.userId, action, order.attribution ?? NO_ATTRIBUTION, {
      orderNo: order.orderNo,
      amount: order.fullPrice,
      currency: order.currency,
      outcome,
    });
  }

  // --- start -----------------------------------------------------------------------------------------------------

  /** `expect` (If-Match) holds for the basket read at the start and again in the write that moves the cart. */
  async start(
    owner: BasketOwner,
    partner: PartnerConfig,
    input: StartInput,
    attribution: EventAttribution = NO_ATTRIBUTION,
    expect?: Precondition,
  ): Promise<StartResult> {
    // One start per basket at a time. Without this, simultaneous starts of one user each reserved stock and
    // created an order before all but one lost the basket's compare-and-set: the losers then reported a false
    // OUT_OF_STOCK (the stock was held by their siblings) and left cancelled orders behind.
    const scope = `checkout-start:${owner.partnerId}`;
    const hold = await this.store.beginIdempotent(scope, owner.userId, 'start', this.now(), START_LEASE_MS, START_LEASE_MS);
    if (hold.state !== 'new') throw new BasketError('CHECKOUT_ALREADY_ACTIVE', 'A checkout of this basket is already starting');
    try {
      // the cart may change between the snapshot and the compare-and-set; then everything is undone and retried
      for (let attempt = 0; attempt < 3; attempt++) {
        const result = await this.attemptStart(owner, partner, input, attribution, expect);
        if (result) {
          await this.orderEvent(result.order, 'checkout_start');
          return result;
        }
      }
      throw new BasketError('CHECKOUT_ALREADY_ACTIVE', 'The cart kept changing while the checkout started; try again');
    } finally {
      const released = await this.store.abandonIdempotent(scope, owner.userId, hold.holder).catch((err: unknown) => {
        // the hold lapses on its own after START_LEASE_MS
        this.log.warn({ err, userId: owner.userId }, 'releasing the checkout start hold failed');
        return null;
      });
      // the start outlived START_LEASE_MS and another start took the hold over (that one's hold is left alone)
      if (released === false) this.log.warn({ userId: owner.userId }, 'the checkout start hold had lapsed before its release');
    }
  }

  private async attemptStart(
    owner: BasketOwner,
    partner: PartnerConfig,
    input: StartInput,
    attribution: EventAttribution,
    expect: Precondition | undefined,
  ): Promise<StartResult | null> {
    const { partnerId, userId } = owner;
    const read = await this.baskets.read(owner);
    // nothing is reserved or created for a basket that is not the client's version
    if (expect !== undefined) checkPrecondition(expect, read.version);
    const basket = read.state;
    if (basket.session !== null || basket.checkout.length > 0) throw new BasketError('CHECKOUT_ALREADY_ACTIVE');
    if (basket.cart.length === 0) throw new BasketError('CART_EMPTY');
    const snapshot = basket.cart;

    // everything that can refuse the checkout is checked before anything is reserved
    const products = await this.store.getProducts(partnerId, snapshot.map((l) => l.productId));
    const priced = snapshot.map((l) => {
      const p = products.get(l.productId);
      if (!p) throw new BasketError('PRODUCT_NOT_FOUND', `Product ${l.productId} is not in the catalogue; remove it to check out`);
      if (p.price === null) throw new BasketError('PRODUCT_NOT_FOUND', `Product ${l.productId} has no price yet; remove it to check out`);
      return { line: l, product: { name: p.name, price: p.price, currency: p.currency, taxRateBp: p.taxRateBp } };
    });
    commonCurrency(priced.map((x) => ({ productId: x.line.productId, product: x.product })));
    const psp = this.psps.forPartner(partner);
    const testMode = psp.testMode(partner, input.testMode);
    const comfort = owner.guest ? null : await this.store.getComfort(owner);

    const now = this.now();
    const sessionId = randomUUID();
    const orderNo = newOrderNo(now);
    const expires = now + this.checkoutMs;
    const session: CheckoutSessionRef = { id: sessionId, orderNo, startedAt: now, expires };

    // 1. the release is scheduled before anything is reserved
    const expirePayload: ExpirePayload = { partnerId, userId, guest: owner.guest, sessionId, orderNo };
    await this.store.enqueue([{ topic: TOPIC_EXPIRE, key: sessionId, payload: expirePayload, availableAt: expires }]);

    // 2. reserve, atomically per line
    const reserved = await this.store.reserveStock(
      partnerId,
      sessionId,
      snapshot.map((l) => ({ productId: l.productId, count: l.count })),
    );
    if (reserved.length !== snapshot.length) {
      // the session was expired (tombstoned) before it reserved: only possible when a start outlives its lifetime
      throw new BasketError('SERVICE_UNAVAILABLE', 'The checkout took too long to start; try again');
    }
    const checkout: CheckoutLine[] = snapshot.map((l, i) => ({ ...l, stocked: reserved[i]!.stocked }));
    if (!anyReserved(checkout)) {
      await this.settleNeverActive(owner, sessionId, orderNo);
      throw new BasketError('OUT_OF_STOCK');
    }

    // 3. the order, 4. the payment, 5. the basket; any failure undoes 2–4
    let order: Order | null = null;
    let basketVersion = 0;
    try {
      const totals = computeTotals(
        priced.map((x, i) => ({ productId: x.line.productId, count: x.line.count, stocked: checkout[i]!.stocked, product: x.product })),
        partner.shipping,
      );
      const lines: OrderLine[] = totals.lines.map((l) => ({
        productId: l.productId,
        count: l.count,
        stocked: l.stocked,
        name: l.name,
        unitPrice: l.unitPrice,
        taxRateBp: l.taxRateBp,
        lineTotal: l.lineTotal,
        lineTax: l.lineTax,
      }));
      order = {
        orderNo,
        partnerId,
        userId,
        sessionId,
        status: 'pending_payment',
        currency: totals.currency,
        fullPrice: totals.fullPrice,
        fullTax: totals.fullTax,
        shippingCost: totals.shippingCost,
        lines,
        testMode,
        paymentProvider: psp.name,
        paymentRef: null,
        payment: {},
        created: now,
        updated: now,
        attribution,
      };
      await this.store.createOrder(order);

      let payment;
      try {
        payment = await psp.createPayment(partner, {
          orderNo,
          partnerId,
          userId,
          amount: totals.fullPrice,
          currency: totals.currency,
          testMode: input.testMode,
          language: input.language,
          country: input.country,
          usingSdk: input.usingSdk,
          comfort,
        });
      } catch (err) {
        if (err instanceof BasketError) throw err;
        this.log.warn({ err, orderNo, psp: psp.name }, 'payment provider failed at checkout start');
        throw new BasketError('PAYMENT_PROVIDER_ERROR', `The payment provider ${psp.name} failed; nothing was charged or reserved`);
      }
      const created = payment;
      order =
        (await this.store.updateOrder(partnerId, orderNo, (o) => ({
          ...o,
          paymentRef: created.ref,
          payment: created.fields,
          testMode: created.testMode,
          updated: this.now(),
        }))) ?? order;

      let cartChanged = false;
      ({ version: basketVersion } = await this.baskets.change(
        owner,
        (s) => {
          const next = beginCheckout(s, snapshot, checkout, session);
          cartChanged = next === null;
          return next ?? s;
        },
        { expect },
      ));
      if (cartChanged) {
        await this.settleNeverActive(owner, sessionId, orderNo);
        return null;
      }
    } catch (err) {
      await this.settleNeverActive(owner, sessionId, orderNo).catch((again: unknown) => {
        // the queued checkout.expire message will finish the clean-up
        this.log.error({ err: again, sessionId, orderNo }, 'compensating a failed checkout start failed; expiry will release it');
      });
      throw err;
    }

    if (this.now() >= expires) {
      // a start that outlived its session: end it now rather than leave an expired session in the basket
      await this.settle(owner, session, 'aborted');
      throw new BasketError('SERVICE_UNAVAILABLE', 'The checkout took too long to start; try again');
    }
    return { order, checkout, expires, basketVersion };
  }

  // --- finish ----------------------------------------------------------------------------------------------------

  /**
   * finishActiveCheckout: ordered → order placed; false → back to the cart. Returns the basket. `expect` (If-Match)
   * is checked against the basket read here, before the outcome is claimed: a claimed outcome (the PSP told, stock
   * settled) cannot be refused afterwards, so this one check cannot sit in the basket's final write.
   */
  async finish(owner: BasketOwner, ordered: boolean, attribution: EventAttribution = NO_ATTRIBUTION, expect?: Precondition): Promise<VersionedBasket> {
    const read = await this.baskets.read(owner);
    if (expect !== undefined) checkPrecondition(expect, read.version);
    const session = read.state.session;
    if (session === null) {
      if (await this.finishedRecently(owner, ordered)) return read;
      throw new BasketError('NO_ACTIVE_CHECKOUT');
    }
    const wanted: SessionOutcome = ordered ? 'ordered' : 'aborted';
    const outcome = await this.settle(owner, session, wanted);
    if (outcome !== wanted) {
      throw new BasketError(
        'NO_ACTIVE_CHECKOUT',
        outcome === 'ordered' ? 'The checkout was already ordered (the payment succeeded)' : 'The checkout session was aborted or has expired',
      );
    }
    const order = await this.store.getOrder(owner.partnerId, session.orderNo);
    // the finish itself is this request's action: its own tracking header, the order's amount
    if (order) await this.orderEvent({ ...order, attribution }, 'checkout_finish', wanted);
    return this.baskets.read(owner);
  }

  /**
   * "Repeating a finished call is harmless": with no active session, the same call answers 200 with the basket
   * when the user's latest order's session ended that same way within the checkout lifetime; otherwise 2015.
   */
  private async finishedRecently(owner: BasketOwner, ordered: boolean): Promise<boolean> {
    const page = await this.store.listOrders(owner.partnerId, owner.userId, 1, null);
    const last = page.orders[0];
    if (!last || this.now() - last.updated > this.checkoutMs) return false;
    const state = await this.store.getReservationState(owner.partnerId, last.sessionId);
    return ordered ? state === 'committed' : state === 'released';
  }

  // --- ending a session ------------------------------------------------------------------------------------------

  /**
   * Ends a session: claims `wanted` (first writer wins), then runs the steps of the outcome that won. Safe to run
   * any number of times, concurrently, from any process. Returns the final outcome.
   */
  async settle(key: BasketOwner | { partnerId: string; userId: string }, session: { id: string; orderNo: string }, wanted: SessionOutcome): Promise<SessionOutcome> {
    const { partnerId } = key;
    const { decided, holder } = await this.decide(partnerId, session.id, wanted);
    const order = await this.store.getOrder(partnerId, session.orderNo);
    let outcome = decided;
    if (decided === 'aborted' && order?.status === 'paid') {
      // the PSP confirmed the payment: that is final, the order stands
      outcome = 'ordered';
    } else if (decided === 'aborted') {
      // the PSP first: only a payment that can no longer succeed lets the stock go
      if (order?.paymentRef && order.status === 'pending_payment') {
        const partner = this.requirePartner(partnerId);
        const result = await this.psps.forOrder(order.paymentProvider).cancelPayment(partner, order.paymentRef, order.testMode);
        if (result === 'succeeded') {
          this.log.warn({ orderNo: order.orderNo }, 'abort found the payment already succeeded: the order stands');
          await this.markPaid(partnerId, order.orderNo);
          outcome = 'ordered';
        }
      }
    }
    if (outcome === 'aborted') {
      await this.store.releaseReservation(partnerId, session.id);
      const state = await this.store.getReservationState(partnerId, session.id);
      if (state === 'committed') outcome = 'ordered'; // settled before the register existed (or it was purged)
    }
    if (outcome === 'ordered') {
      await this.store.commitReservation(partnerId, session.id);
      const state = await this.store.getReservationState(partnerId, session.id);
      if (state === 'released') {
        // cannot happen while the register holds; kept as a guard so stock is never committed twice or unreserved
        this.log.error({ sessionId: session.id }, 'ordered session found its reservation released');
        outcome = 'aborted';
      }
    }
    if (order) {
      const ordered = outcome === 'ordered';
      const confirmedByClient = ordered && !confirmedByWebhook(order.paymentProvider);
      if (confirmedByClient && order.status === 'pending_payment') {
        // queued before the status changes: an order marked `ordered` has always been queued
        const payload: OrderPayload = { partnerId, orderNo: order.orderNo, event: 'ordered' };
        await this.store.enqueue([{ topic: TOPIC_ORDER, key: `${partnerId}/${order.orderNo}/ordered`, payload, availableAt: this.now() }]);
      } else if (ordered && order.status === 'pending_payment') {
        // its stock is committed now; a payment that never comes must not keep it (paymentDeadline)
        const payload: PaymentDeadlinePayload = { partnerId, orderNo: order.orderNo };
        const availableAt = this.now() + this.paymentMs;
        await this.store.enqueue([{ topic: TOPIC_PAYMENT_DEADLINE, key: `${partnerId}/${order.orderNo}`, payload, availableAt }]);
      }
      let changed = false;
      const updated = await this.store.updateOrder(partnerId, order.orderNo, (o) => {
        changed = false;
        if (o.status !== 'pending_payment') return null;
        if (ordered && !confirmedByClient) return null; // stays pending_payment until the PSP's webhook
        changed = true;
        return { ...o, status: ordered ? 'ordered' : 'cancelled', payment: paymentSettled(o, ordered ? 'succeeded' : 'canceled'), updated: this.now() };
      });
      // a PSP the client confirms: `ordered` is the payment's confirmation
      if (changed && updated) await this.orderEvent(updated, ordered ? 'order_paid' : 'order_cancelled');
    }
    const owner: BasketOwner = 'guest' in key ? key : { ...key, guest: false };
    await this.endInBasket(owner, session.id, outcome);
    // only the run that holds the claim marks it done; the others ran the same idempotent steps alongside it
    if (holder !== null && !(await this.store.finishIdempotent(`session:${partnerId}`, session.id, holder, { status: 200, body: { outcome } }))) {
      this.log.warn({ sessionId: session.id }, 'the session claim had lapsed before its settle finished');
    }
    return outcome;
  }

  /**
   * First writer wins: the outcome claimed first for this session (a settled reservation overrides it), and the
   * claim's holder token when this run began it (null otherwise).
   */
  private async decide(partnerId: string, sessionId: string, wanted: SessionOutcome): Promise<{ decided: SessionOutcome; holder: string | null }> {
    const state = await this.store.getReservationState(partnerId, sessionId);
    if (state === 'committed' || state === 'returned') return { decided: 'ordered', holder: null };
    if (state === 'released') return { decided: 'aborted', holder: null };
    const now = this.now();
    const claim = await this.store.beginIdempotent(`session:${partnerId}`, sessionId, wanted, now, this.checkoutMs + this.idempotencyMs, CLAIM_LEASE_MS);
    if (claim.state === 'new') return { decided: wanted, holder: claim.holder };
    if (claim.state !== 'mismatch') return { decided: wanted, holder: null };
    return { decided: wanted === 'ordered' ? 'aborted' : 'ordered', holder: null };
  }

  /** Ends the session in the basket if it is still there (a no-op otherwise). */
  private async endInBasket(owner: BasketOwner, sessionId: string, outcome: SessionOutcome): Promise<void> {
    await this.baskets.change(owner, (s) => endCheckout(s, sessionId, outcome, this.baskets.limits));
  }

  /**
   * Clean-up of a session that never became active (failed start, or expiry after a crash in between): nothing
   * reserved may stay reserved. An empty reservation is written first as a tombstone, so a start still in flight
   * can no longer reserve under this id.
   */
  async settleNeverActive(owner: BasketOwner, sessionId: string, orderNo: string): Promise<void> {
    await this.store.reserveStock(owner.partnerId, sessionId, []);
    await this.settle(owner, { id: sessionId, orderNo }, 'aborted');
  }

  /** The checkout.expire handler: the session ends as aborted if still open (or as it was decided). */
  async expire(payload: ExpirePayload): Promise<void> {
    const owner: BasketOwner = { partnerId: payload.partnerId, userId: payload.userId, guest: payload.guest };
    const stored = await this.store.getBasket(owner);
    const session = stored?.state.session;
    if (session && session.id === payload.sessionId) {
      await this.settle(owner, session, 'aborted');
      return;
    }
    if (await this.endedConsistently(payload.partnerId, payload.sessionId, payload.orderNo)) return;
    // never active (crash between steps, failed start), or already ended: make sure nothing stays reserved
    await this.settleNeverActive(owner, payload.sessionId, payload.orderNo);
  }

  /** A session that left the basket with every step done (so expiry has nothing to repeat). */
  private async endedConsistently(partnerId: string, sessionId: string, orderNo: string): Promise<boolean> {
    const state = await this.store.getReservationState(partnerId, sessionId);
    const order = await this.store.getOrder(partnerId, orderNo);
    if (state === 'released') return order === null || order.status !== 'pending_payment';
    if (state === 'returned') return true; // ordered, then given up at its payment deadline
    if (state === 'committed') {
      return order !== null && (order.status !== 'pending_payment' || confirmedByWebhook(order.paymentProvider));
    }
    return false;
  }

  // --- payments --------------------------------------------------------------------------------------------------

  /**
   * A PSP confirmed the payment (Stripe webhook): the order is paid, its session ends as ordered, and the paid
   * order is queued for delivery. Idempotent (duplicate webhooks change nothing more).
   */
  async paymentSucceeded(order: Order): Promise<Order | null> {
    const paid = await this.markPaid(order.partnerId, order.orderNo);
    if (!paid || paid.status !== 'paid') {
      this.log.error({ orderNo: order.orderNo, status: paid?.status }, 'payment succeeded for an order that is not payable: refund needed');
      return paid;
    }
    const outcome = await this.settle({ partnerId: order.partnerId, userId: order.userId }, { id: order.sessionId, orderNo: order.orderNo }, 'ordered');
    if (outcome !== 'ordered') {
      this.log.error({ orderNo: order.orderNo }, 'payment succeeded but the session was aborted: refund needed');
      return paid;
    }
    const payload: OrderPayload = { partnerId: order.partnerId, orderNo: order.orderNo, event: 'paid' };
    await this.store.enqueue([{ topic: TOPIC_ORDER, key: `${order.partnerId}/${order.orderNo}/paid`, payload, availableAt: this.now() }]);
    return paid;
  }

  /**
   * The TOPIC_PAYMENT_DEADLINE handler, and the `payment_intent.canceled` webhook's: an order still unpaid gets
   * its payment cancelled, and once that payment can no longer succeed, its committed stock back and the status
   * `cancelled`. A payment that turns out to have succeeded makes the order paid instead. Idempotent; a PSP that
   * cannot be reached rejects (PspError), and the outbox retries.
   */
  async paymentDeadline(payload: PaymentDeadlinePayload): Promise<Order | null> {
    const { partnerId, orderNo } = payload;
    const order = await this.store.getOrder(partnerId, orderNo);
    if (!order || order.status !== 'pending_payment') return order;
    // a session not yet ended (never the case for a queued deadline) is for its own finish or expiry to settle
    if ((await this.store.getReservationState(partnerId, order.sessionId)) === 'reserved') return order;
    if (order.paymentRef) {
      const partner = this.requirePartner(partnerId);
      const result = await this.psps.forOrder(order.paymentProvider).cancelPayment(partner, order.paymentRef, order.testMode);
      if (result === 'succeeded') {
        this.log.warn({ orderNo }, 'payment deadline found the payment succeeded (its webhook missing): the order is paid');
        return this.paymentSucceeded(order);
      }
    }
    // stock before status: a crash in between leaves the order pending, so the retry gets here again
    const returned = await this.store.returnReservation(partnerId, order.sessionId);
    let changed = false;
    const cancelled = await this.store.updateOrder(partnerId, orderNo, (o) => {
      changed = o.status === 'pending_payment';
      return changed ? { ...o, status: 'cancelled', payment: paymentSettled(o, 'canceled'), updated: this.now() } : null;
    });
    if (changed && cancelled) await this.orderEvent(cancelled, 'order_cancelled');
    this.log.warn({ orderNo, stockReturned: returned }, 'order cancelled: its payment did not succeed in time');
    return cancelled;
  }

  /**
   * The PSP cancelled the payment on its own (Stripe's `payment_intent.canceled`, from the dashboard or its own
   * expiry). An order whose session ended as ordered is given up now instead of at its deadline; one still in
   * its session is left to the session's end (finish or expiry), which cancels and releases it anyway.
   */
  async paymentCanceled(order: Order): Promise<boolean> {
    if (order.status !== 'pending_payment') return false;
    // still in its session (or never reserved, or already returned): nothing for the deadline to do now
    if ((await this.store.getReservationState(order.partnerId, order.sessionId)) !== 'committed') return false;
    await this.paymentDeadline({ partnerId: order.partnerId, orderNo: order.orderNo });
    return true;
  }

  private async markPaid(partnerId: string, orderNo: string): Promise<Order | null> {
    // an order already `ordered` had its order_paid event then (a PSP the client confirms)
    let confirmed = false;
    const paid = await this.store.updateOrder(partnerId, orderNo, (o) => {
      confirmed = o.status === 'pending_payment';
      return o.status === 'pending_payment' || o.status === 'ordered' ? { ...o, status: 'paid', payment: paymentSettled(o, 'succeeded'), updated: this.now() } : null;
    });
    if (confirmed && paid) await this.orderEvent(paid, 'order_paid');
    return paid;
  }

  private requirePartner(partnerId: string): PartnerConfig {
    const p = this.partnerOf(partnerId);
    if (!p) throw new PspError(`partner ${partnerId} is no longer configured`);
    return p;
  }
}

/** Request fingerprint for Idempotency-Key: method, path (without the /v2 prefix), sorted query, canonical body. */
export function requestFingerprint(method: string, path: string, query: Record<string, unknown>, body: unknown): string {
  const canonical = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(canonical);
    if (v !== null && typeof v === 'object') {
      return Object.fromEntries(Object.keys(v as object).sort().map((k) => [k, canonical((v as Record<string, unknown>)[k])]));
    }
    return v;
  };
  const normalPath = path.replace(/^\/v2(?=\/)/, '');
  return createHash('sha256')
    .update(JSON.stringify([method.toUpperCase(), normalPath, canonical(query), canonical(body ?? null)]))
    .digest('hex');
}

export type { Line };
