/**
 * Order submission (shop-api.md §3.7): a basket becomes one order, once, whatever the concurrency.
 *
 * 1. One compare-and-set moves the basket open → submitting with a new order id (`submission`). A concurrent submit
 *    finds `submission` and answers that order (waiting a little for its outcome); a submission whose process died
 *    is taken over once its lease has lapsed, with the same order id, so the payment provider's idempotency key
 *    (derived from the order id) is the same and the customer is not charged twice.
 * 2. The order is created (pending), the payment made through the partner's provider.
 * 3. Success: the order's delivery is queued (outbox `shop.order`), then the order and the basket are completed.
 *    Failure of the provider: the order is failed, the basket open again (it can be submitted again), 502.
 *
 * A provider that confirms payments by webhook (Stripe): creating the payment is not the charge. The submission
 * stops after step 2 with the order `pending` (answered with the payment fields the shop confirms it with) and the
 * basket `submitting`, marked `awaitingPayment`: from then on its lease does not apply (nothing died; the customer
 * is paying) and repeated submits answer the pending order at once. The webhook ends it: `paymentSucceeded` runs
 * step 3 (the same code as after a charge confirmed at once), `paymentFailed` cancels the payment and fails the
 * order, the basket open again. A payment never made ends at its deadline (`paymentMs`, outbox
 * `shop.payment-deadline`, queued before the basket is marked) as a failed one does: the basket is not held until
 * it expires.
 *
 * The order type decides what a submission does: `new` charges the basket; `update_subscription` is handed to a
 * subscription-change handler when one is configured (issue 20), and refused otherwise.
 */
import type { PartnerConfig } from '../../config.js';
import { BasketError } from '../../domain/errors.js';
import { badRequest, MSG_BASKET_NOT_FOUND, notFound, ShopRuleError } from '../../domain/shop/errors.js';
import { newOrderReference, newShopOrderId } from '../../domain/shop/ids.js';
import { isExpired, shopTotals } from '../../domain/shop/items.js';
import type { ShopBasket, ShopOrder } from '../../domain/shop/records.js';
import { confirmedByWebhook, PspError, type PspRegistry } from '../../psp/psp.js';
import type { ShopBasketChange, ShopStore } from '../../store/interface/shop.js';
import type { OutboxStore } from '../../store/store.js';
import { DuplicateOrderError } from '../../store/interface/errors.js';
import type { Logger } from '../checkout.js';

export const TOPIC_SHOP_ORDER = 'shop.order';
/** An order awaiting its provider's webhook: failed (payment cancelled, basket open) if still unpaid when due. */
export const TOPIC_SHOP_PAYMENT_DEADLINE = 'shop.payment-deadline';

export interface ShopOrderPayload {
  partnerId: string;
  orderId: string;
}

export interface SubmitInput {
  checkoutId: string;
  customerDetails: Record<string, unknown> | null;
  billingDetails: Record<string, unknown> | null;
  /** As the device surface's `testMode` query: null lets the provider decide. */
  testMode: boolean | null;
}

/** What the subscription-change hooks are handed: the partner, the claimed basket and its order. */
export interface SubmissionContext {
  partner: PartnerConfig;
  basket: ShopBasket;
  order: ShopOrder;
}

/** What a subscription-change basket does when submitted (issue 20). */
export interface SubscriptionChangeHooks {
  /** Prices the change on the order and charges it; returns the order, still pending (refused: throws). */
  submit(ctx: SubmissionContext): Promise<ShopOrder>;
  /** Once the charge succeeded (or there was none): the change applied; returns the order completed (refused: throws). */
  confirm(ctx: SubmissionContext): Promise<ShopOrder>;
}

export interface ShopOrderServiceOptions {
  shop: ShopStore;
  outbox: OutboxStore;
  psps: PspRegistry;
  now: () => number;
  log: Logger;
  subscriptionChange?: SubscriptionChangeHooks;
  /** The partner of a queued payment deadline. */
  partner: (partnerId: string) => PartnerConfig | undefined;
  /** How long a payment confirmed by webhook may stay unpaid before the order fails (PAYMENT_TTL). */
  paymentMs: number;
  /** How long a submission holds its basket before another submit may take it over. */
  leaseMs?: number;
  /** How long a concurrent submit waits for the first one's outcome before answering it as pending. */
  waitMs?: number;
}

/** Longer than a payment with Stripe's timeout (15 s) and one retry. */
const DEFAULT_LEASE_MS = 60_000;
const DEFAULT_WAIT_MS = 10_000;

type Claim = { kind: 'run'; basket: ShopBasket; orderId: string } | { kind: 'answer'; orderId: string; basket: ShopBasket };

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class ShopOrderService {
  readonly #o: ShopOrderServiceOptions;
  readonly #leaseMs: number;
  readonly #waitMs: number;

  constructor(opts: ShopOrderServiceOptions) {
    this.#o = opts;
    this.#leaseMs = opts.leaseMs ?? DEFAULT_LEASE_MS;
    this.#waitMs = opts.waitMs ?? DEFAULT_WAIT_MS;
  }

  async submit(partner: PartnerConfig, input: SubmitInput): Promise<ShopOrder> {
    this.#checkProvider(partner, input.testMode);
    const claim = await this.#claim(partner.id, input);
    if (claim.kind === 'answer') return this.#answer(partner.id, claim.orderId, claim.basket);
    const { basket, orderId } = claim;
    const order = await this.#createOrder(basket, orderId);
    if (order.status === 'completed') return this.#finish(order, basket, false);
    if (order.status === 'failed') {
      // a submission that failed and died before reopening its basket
      await this.#reopen(basket, orderId);
      throw new ShopRuleError(502, 'The payment provider declined or failed; the basket is open for another try');
    }
    // taken over after its payment was created (the process died before marking the basket): nothing to charge again
    if (awaitsWebhook(order)) return this.#awaitPayment(basket, order);
    if (basket.orderType !== 'new') return this.#charged(partner, basket, await this.#o.subscriptionChange!.submit({ partner, basket, order }));
    return this.#charge(partner, basket, order, input.testMode);
  }

  /**
   * Stripe's webhook: the payment of `order` succeeded (the caller checked amount and currency). Completes the order
   * as a payment confirmed at once would. Idempotent: an order no longer pending is answered as it is.
   */
  async paymentSucceeded(partner: PartnerConfig, order: ShopOrder): Promise<ShopOrder> {
    const current = await this.#pendingPayment(order.partnerId, order.id);
    if (!current) {
      if (order.status === 'failed') this.#o.log.error({ orderId: order.id }, 'shop order: payment succeeded for a failed order; refund it');
      return (await this.#o.shop.getShopOrder(order.partnerId, order.id)) ?? order;
    }
    const stored = await this.#o.shop.getShopBasket(current.partnerId, current.basketId);
    const basket = stored?.basket ?? goneBasket(current);
    try {
      return await this.#afterCharge(partner, basket, current);
    } catch (err) {
      if (err instanceof ShopRuleError) {
        // the subscription change was refused after all: the order failed, its basket open; nothing for a retry
        this.#o.log.error({ orderId: order.id, reason: err.message }, 'shop order refused after its payment succeeded; refund it');
        return (await this.#o.shop.getShopOrder(order.partnerId, order.id)) ?? order;
      }
      throw err;
    }
  }

  /**
   * Stripe's webhook: the payment of `order` failed or was cancelled. The payment is cancelled first so that it can
   * no longer succeed (the customer could retry it with another card); one that succeeded meanwhile completes the
   * order instead. Otherwise the order fails and the basket opens again. Idempotent.
   */
  async paymentFailed(partner: PartnerConfig, order: ShopOrder): Promise<ShopOrder> {
    const { shop, psps, now, log } = this.#o;
    const current = await this.#pendingPayment(order.partnerId, order.id);
    if (!current) return (await shop.getShopOrder(order.partnerId, order.id)) ?? order;
    const outcome = await psps.forOrder(current.paymentProvider!).cancelPayment(partner, current.paymentRef!, current.details.testMode === true);
    if (outcome === 'succeeded') {
      log.warn({ orderId: current.id }, 'shop order: a failed payment was retried and succeeded');
      return this.paymentSucceeded(partner, current);
    }
    const failed = await shop.updateShopOrder(current.partnerId, current.id, (o) => (o.status === 'pending' ? { ...o, status: 'failed', updated: now() } : null));
    // only the write that failed the order reopens its basket (a concurrent success keeps it completed)
    if (failed) await this.#reopen({ partnerId: current.partnerId, id: current.basketId }, current.id);
    return failed ?? (await shop.getShopOrder(current.partnerId, current.id)) ?? current;
  }

  /**
   * The TOPIC_SHOP_PAYMENT_DEADLINE handler: an order still waiting for its payment is ended as a failed payment is
   * (the payment cancelled first, so that it cannot succeed later; one that succeeded meanwhile completes the order).
   * Anything else (paid, failed, gone) is left as it is.
   */
  async paymentDeadline(payload: ShopOrderPayload): Promise<void> {
    const { partner, log } = this.#o;
    const current = await this.#pendingPayment(payload.partnerId, payload.orderId);
    if (!current) return;
    const p = partner(current.partnerId);
    if (!p) {
      log.warn({ orderId: current.id, partnerId: current.partnerId }, 'shop payment deadline: the partner is no longer configured');
      return;
    }
    log.info({ orderId: current.id }, 'shop order: unpaid at its payment deadline, cancelling');
    await this.paymentFailed(p, current);
  }

  /** The order as stored when it still waits for its provider's webhook; null when that is over (or never was). */
  async #pendingPayment(partnerId: string, orderId: string): Promise<ShopOrder | null> {
    const current = await this.#o.shop.getShopOrder(partnerId, orderId);
    return current && current.status === 'pending' && awaitsWebhook(current) ? current : null;
  }

  /** After the payment was created: on at once, or (webhook-confirmed provider) the submission waits for it. */
  async #charged(partner: PartnerConfig, basket: ShopBasket, order: ShopOrder): Promise<ShopOrder> {
    if (order.status === 'pending' && awaitsWebhook(order)) return this.#awaitPayment(basket, order);
    return this.#afterCharge(partner, basket, order);
  }

  /**
   * What follows a successful charge, or an order with nothing to charge: right after the payment was created for a
   * provider where that is the charge, on the webhook for one that confirms by webhook. Step 3.
   */
  async #afterCharge(partner: PartnerConfig, basket: ShopBasket, order: ShopOrder): Promise<ShopOrder> {
    if (basket.orderType === 'new') return this.#finish(order, basket, true);
    const done = await this.#o.subscriptionChange!.confirm({ partner, basket, order });
    return this.#finish(done, basket, done.status === 'completed');
  }

  /**
   * The basket marked as waiting for the payment's webhook (its lease no longer applies); the order answered pending.
   * Its deadline is queued first: a process dying between the two leaves a deadline without a mark (the lease then
   * applies; the deadline finds whatever came of it), never a mark without a deadline.
   */
  async #awaitPayment(basket: ShopBasket, order: ShopOrder): Promise<ShopOrder> {
    const { shop, outbox, now, paymentMs } = this.#o;
    const payload: ShopOrderPayload = { partnerId: order.partnerId, orderId: order.id };
    await outbox.enqueue([{ topic: TOPIC_SHOP_PAYMENT_DEADLINE, key: `${order.partnerId}/${order.id}`, payload, availableAt: now() + paymentMs }]);
    await shop.updateShopBasket(basket.partnerId, basket.id, (stored) => {
      const b = stored?.basket;
      if (!b || b.status !== 'submitting' || b.submission?.orderId !== order.id || b.submission.awaitingPayment) return { keep: true, result: undefined };
      const marked: ShopBasket = { ...b, submission: { ...b.submission, awaitingPayment: true }, updated: now() };
      return { basket: marked, result: undefined };
    });
    return order;
  }

  /**
   * What can refuse the payment before anything is written: a provider the partner cannot use (502, as the
   * provider's own failure would be) or a test mode it cannot run in (400: the request asked for it).
   */
  #checkProvider(partner: PartnerConfig, testMode: boolean | null): void {
    try {
      this.#o.psps.forPartner(partner).testMode(partner, testMode);
    } catch (err) {
      if (!(err instanceof BasketError)) throw err;
      if (err.kind === 'PAYMENT_PROVIDER_NOT_SUPPORTED') throw new ShopRuleError(502, `Payment failed: ${err.message}`);
      throw badRequest(err.message);
    }
  }

  /** Step 1: the one write that decides who places the order. */
  async #claim(partnerId: string, input: SubmitInput): Promise<Claim> {
    const at = this.#o.now();
    const newId = newShopOrderId();
    return this.#o.shop.updateShopBasket(partnerId, input.checkoutId, (stored): ShopBasketChange<Claim> => {
      if (!stored) throw notFound(MSG_BASKET_NOT_FOUND);
      const b = stored.basket;
      if (b.status === 'completed' && b.submission) return { keep: true, result: { kind: 'answer', orderId: b.submission.orderId, basket: b } };
      if (b.status === 'submitting' && b.submission) {
        // a payment created with a webhook-confirmed provider: nothing died, the customer is paying; no takeover
        if (b.submission.awaitingPayment || b.submission.started + this.#leaseMs > at) return { keep: true, result: { kind: 'answer', orderId: b.submission.orderId, basket: b } };
        // its process died mid-way: take it over with the same order id
        const basket: ShopBasket = { ...b, submission: { orderId: b.submission.orderId, started: at }, updated: at };
        return { basket, result: { kind: 'run', basket, orderId: b.submission.orderId } };
      }
      if (isExpired(b, at)) throw notFound(MSG_BASKET_NOT_FOUND);
      if (b.status !== 'open') throw badRequest('The basket cannot be submitted');
      if (b.items.length === 0) throw badRequest('The basket has no items');
      if (b.orderType !== 'new' && !this.#o.subscriptionChange) throw badRequest('Subscription changes cannot be submitted by this service yet');
      const details = { ...b.details };
      if (input.customerDetails) details.customerDetails = { ...(b.details.customerDetails as object | undefined), ...input.customerDetails };
      if (input.billingDetails) details.billingDetails = input.billingDetails;
      const basket: ShopBasket = { ...b, status: 'submitting', submission: { orderId: newId, started: at }, details, updated: at };
      return { basket, result: { kind: 'run', basket, orderId: newId } };
    });
  }

  /** Step 2a: the order record, pending; a taken-over submission finds it already there. */
  async #createOrder(basket: ShopBasket, orderId: string): Promise<ShopOrder> {
    const { shop, now } = this.#o;
    const at = now();
    const totals = shopTotals(basket.items);
    const order: ShopOrder = {
      id: orderId,
      partnerId: basket.partnerId,
      basketId: basket.id,
      externalId: basket.externalId,
      status: 'pending',
      total: totals.amount,
      currency: totals.currency ?? 'EUR',
      paymentProvider: null,
      paymentRef: null,
      created: at,
      updated: at,
      details: {
        orderReference: newOrderReference(at),
        subscriptionReference: null,
        orderType: basket.orderType,
        tax: totals.tax,
        items: basket.items,
        customerDetails: basket.details.customerDetails ?? null,
        billingDetails: basket.details.billingDetails ?? null,
      },
    };
    try {
      await shop.createShopOrder(order);
      return order;
    } catch (err) {
      if (!(err instanceof DuplicateOrderError)) throw err;
      const existing = await shop.getShopOrder(basket.partnerId, orderId);
      if (!existing) throw err;
      return existing;
    }
  }

  /** Step 2b: the payment; then step 3. */
  async #charge(partner: PartnerConfig, basket: ShopBasket, order: ShopOrder, testMode: boolean | null): Promise<ShopOrder> {
    const { shop, psps, log, now } = this.#o;
    if (order.total === 0) return this.#afterCharge(partner, basket, order);
    let payment;
    let provider: string | null = null;
    try {
      const psp = psps.forPartner(partner);
      provider = psp.name;
      payment = await psp.createPayment(partner, {
        orderNo: order.id,
        partnerId: partner.id,
        userId: basket.id,
        amount: order.total,
        currency: order.currency,
        testMode,
        language: null,
        country: typeof basket.details.country === 'string' ? basket.details.country : null,
        usingSdk: true, // the shop's front end confirms a Stripe payment with Stripe.js: it needs the client secret
        comfort: null,
      });
    } catch (err) {
      if (!(err instanceof PspError) && !(err instanceof BasketError)) throw err; // store trouble: the lease lets a retry take over
      log.warn({ err, orderId: order.id, psp: provider }, 'shop order: payment failed');
      await shop.updateShopOrder(order.partnerId, order.id, (o) => (o.status === 'pending' ? { ...o, status: 'failed', paymentProvider: provider, updated: now() } : null));
      await this.#reopen(basket, order.id);
      const why = err instanceof BasketError ? err.message : 'the payment provider declined or failed';
      throw new ShopRuleError(502, `Payment failed: ${why}; the basket is open for another try`);
    }
    const charged = await shop.updateShopOrder(order.partnerId, order.id, (o) =>
      o.status === 'pending'
        ? { ...o, paymentProvider: payment.ref ? provider : null, paymentRef: payment.ref, details: { ...o.details, payment: payment.fields, testMode: payment.testMode }, updated: now() }
        : null,
    );
    return this.#charged(partner, basket, charged ?? order);
  }

  /** Step 3: delivery queued, then the order and the basket completed. */
  async #finish(order: ShopOrder, basket: BasketKey, complete: boolean): Promise<ShopOrder> {
    const { shop, outbox, now } = this.#o;
    let done = order;
    if (complete && order.status !== 'completed') {
      // queued first: a completed order has always been queued (the handler waits while the order is pending)
      const payload: ShopOrderPayload = { partnerId: order.partnerId, orderId: order.id };
      await outbox.enqueue([{ topic: TOPIC_SHOP_ORDER, key: `${order.partnerId}/${order.id}`, payload, availableAt: now() }]);
      done = (await shop.updateShopOrder(order.partnerId, order.id, (o) => (o.status === 'pending' ? { ...o, status: 'completed', updated: now() } : null))) ?? order;
      if (done.status !== 'completed') done = (await shop.getShopOrder(order.partnerId, order.id)) ?? done;
    }
    if (done.status === 'failed') return done; // failed by a concurrent webhook, which reopened the basket
    await shop.updateShopBasket(basket.partnerId, basket.id, (stored) => {
      const b = stored?.basket;
      if (!b || b.status !== 'submitting' || b.submission?.orderId !== order.id) return { keep: true, result: undefined };
      const completed: ShopBasket = { ...b, status: 'completed', updated: now() };
      return { basket: completed, result: undefined };
    });
    return done;
  }

  /** The basket open again after a failed submission (if it is still this submission's). */
  async #reopen(basket: BasketKey, orderId: string): Promise<void> {
    const { shop, now } = this.#o;
    await shop.updateShopBasket(basket.partnerId, basket.id, (stored) => {
      const b = stored?.basket;
      if (!b || b.status !== 'submitting' || b.submission?.orderId !== orderId) return { keep: true, result: undefined };
      const open: ShopBasket = { ...b, status: 'open', submission: null, updated: now() };
      return { basket: open, result: undefined };
    });
  }

  /** A repeated or concurrent submit: the order of the basket's submission, once it has an outcome (or as it is). */
  async #answer(partnerId: string, orderId: string, basket: ShopBasket): Promise<ShopOrder> {
    const deadline = Date.now() + this.#waitMs;
    let pause = 20;
    for (;;) {
      const order = await this.#o.shop.getShopOrder(partnerId, orderId);
      if (order && order.status === 'failed') throw new ShopRuleError(502, 'Payment failed: the payment provider declined or failed; the basket is open for another try');
      if (order && (order.status === 'completed' || basket.status === 'completed')) return order;
      // waiting for the customer to pay (webhook-confirmed provider): that can take minutes; answered as it is
      if (order && order.status === 'pending' && awaitsWebhook(order)) return order;
      if (Date.now() >= deadline) return order ?? pendingOrder(basket, orderId, this.#o.now());
      await sleep(pause);
      pause = Math.min(pause * 2, 250);
    }
  }
}

/** Which basket: enough to complete or reopen it. */
type BasketKey = Pick<ShopBasket, 'partnerId' | 'id'>;

/** An order whose payment was created with a provider that confirms it by webhook (Stripe). */
export function awaitsWebhook(order: ShopOrder): boolean {
  return order.paymentRef !== null && order.paymentProvider !== null && confirmedByWebhook(order.paymentProvider);
}

/** The basket of an order whose basket is gone (purged after expiry): a `new` order completes without it. */
function goneBasket(order: ShopOrder): ShopBasket {
  const orderType = order.details.orderType === 'update_subscription' ? 'update_subscription' : 'new';
  return { id: order.basketId, partnerId: order.partnerId, orderType, externalId: order.externalId, items: [], status: 'submitting', submission: null, created: order.created, updated: order.created, expires: order.created, details: {} };
}

/** The answer for a submission whose order is not written yet. */
function pendingOrder(basket: ShopBasket, orderId: string, at: number): ShopOrder {
  return {
    id: orderId,
    partnerId: basket.partnerId,
    basketId: basket.id,
    externalId: basket.externalId,
    status: 'pending',
    total: 0,
    currency: basket.items[0]?.currency ?? 'EUR',
    paymentProvider: null,
    paymentRef: null,
    created: at,
    updated: at,
    details: { orderReference: null, subscriptionReference: null },
  };
}
