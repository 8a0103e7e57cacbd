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
 * The order type decides what a submission does: `new` charges the basket; `update_subscription` is handed to a
 * subscription-change handler when one is configured (issue 20), and refused otherwise.
 */
import type { PartnerConfig } from '../../config.js';
import { BasketError } from '../../domain/errors.js';
import { badRequest, MSG_BASKET_NOT_FOUND, notFound, ShopRuleError } from '../../domain/shop/errors.js';
import { newOrderReference, newShopOrderId } from '../../domain/shop/ids.js';
import { isExpired, shopTotals } from '../../domain/shop/items.js';
import type { ShopBasket, ShopOrder } from '../../domain/shop/records.js';
import { PspError, type PspRegistry } from '../../psp/psp.js';
import type { ShopBasketChange, ShopStore } from '../../store/interface/shop.js';
import type { OutboxStore } from '../../store/store.js';
import { DuplicateOrderError } from '../../store/interface/errors.js';
import type { Logger } from '../checkout.js';

export const TOPIC_SHOP_ORDER = 'shop.order';

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

/** What a subscription-change basket does when submitted (issue 20); returns the order as it ends. */
export type SubscriptionChangeSubmitter = (ctx: { partner: PartnerConfig; basket: ShopBasket; order: ShopOrder }) => Promise<ShopOrder>;

export interface ShopOrderServiceOptions {
  shop: ShopStore;
  outbox: OutboxStore;
  psps: PspRegistry;
  now: () => number;
  log: Logger;
  subscriptionChange?: SubscriptionChangeSubmitter;
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
    if (basket.orderType !== 'new') {
      const done = await this.#o.subscriptionChange!({ partner, basket, order });
      return this.#finish(done, basket, done.status === 'completed');
    }
    return this.#charge(partner, basket, order, input.testMode);
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
        if (b.submission.started + this.#leaseMs > at) return { keep: true, result: { kind: 'answer', orderId: b.submission.orderId, basket: b } };
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
    if (order.total === 0) return this.#finish(order, basket, true);
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
        usingSdk: false,
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
    return this.#finish(charged ?? order, basket, true);
  }

  /** Step 3: delivery queued, then the order and the basket completed. */
  async #finish(order: ShopOrder, basket: ShopBasket, complete: boolean): Promise<ShopOrder> {
    const { shop, outbox, now } = this.#o;
    let done = order;
    if (complete && order.status !== 'completed') {
      // queued first: a completed order has always been queued (the handler waits while the order is pending)
      const payload: ShopOrderPayload = { partnerId: order.partnerId, orderId: order.id };
      await outbox.enqueue([{ topic: TOPIC_SHOP_ORDER, key: `${order.partnerId}/${order.id}`, payload, availableAt: now() }]);
      done = (await shop.updateShopOrder(order.partnerId, order.id, (o) => (o.status === 'pending' ? { ...o, status: 'completed', updated: now() } : null))) ?? order;
      if (done.status !== 'completed') done = (await shop.getShopOrder(order.partnerId, order.id)) ?? done;
    }
    await shop.updateShopBasket(basket.partnerId, basket.id, (stored) => {
      const b = stored?.basket;
      if (!b || b.status !== 'submitting' || b.submission?.orderId !== order.id) return { keep: true, result: undefined };
      const completed: ShopBasket = { ...b, status: 'completed', updated: now() };
      return { basket: completed, result: undefined };
    });
    return done;
  }

  /** The basket open again after a failed submission (if it is still this submission's). */
  async #reopen(basket: ShopBasket, orderId: string): Promise<void> {
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
      if (Date.now() >= deadline) return order ?? pendingOrder(basket, orderId, this.#o.now());
      await sleep(pause);
      pause = Math.min(pause * 2, 250);
    }
  }
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
