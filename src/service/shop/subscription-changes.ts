/**
 * Subscription changes (shop-api.md §3.4–§3.7): start a change (an `update_subscription` basket), read it, choose
 * the new offer, submit it (the `update_subscription` branch of POST /api/order, through ShopOrderService's
 * `subscriptionChange` hook) and apply a downgrade when it is due (outbox topic `shop.subscription-change`).
 * The rules are in src/domain/shop/subscription-*.ts; every write here is a compare-and-set of the store.
 *
 * Submission, after ShopOrderService has claimed the basket and created the pending order (`submit`: 1–2):
 * 1. The change is quoted and checked against the subscription as stored (409/423 before any money moves); the
 *    charge and the quote are written on the order, and a re-run (a submission taken over after its process died)
 *    reuses the charge, so the provider sees the same amount under the same idempotency key.
 * 2. An upgrade's proration is charged through the partner's provider; failure: order failed, basket open, 502.
 * Then, once the charge succeeded (`confirm`: 3–5), called by ShopOrderService at once, or on the webhook of a
 * provider that confirms payments by webhook (Stripe):
 * 3. A downgrade's application is queued at its date (before it is recorded: a stray job finds nothing to do).
 * 4. The change is applied by compare-and-set; a concurrent change that slipped in since step 1 refuses it (the
 *    payment is cancelled, the order failed, the basket open again). The same change already in place is success.
 * 5. The order's delivery is queued and the order completed; ShopOrderService completes the basket.
 */
import type { PartnerConfig } from '../../config.js';
import { BasketError } from '../../domain/errors.js';
import { CHANGE_MESSAGES, SubscriptionChangeError } from '../../domain/shop/change-error.js';
import { ShopRuleError } from '../../domain/shop/errors.js';
import { newBasketId, newItemId } from '../../domain/shop/ids.js';
import { isExpired, SHOP_BASKET_MS } from '../../domain/shop/items.js';
import type { Offer, ShopBasket, ShopItem, ShopOrder, Subscription } from '../../domain/shop/records.js';
import { applyDueChange, applySubmittedChange, prepareStart } from '../../domain/shop/subscription-apply.js';
import {
  chooseChange,
  nextActionIds,
  nextActions,
  planChange,
  quoteChange,
  refsToResolve,
  startDraft,
  type ChangePlan,
  type ChangeQuote,
  type ChoiceAction,
  type NextActions,
  type SubscriptionChangeDraft,
} from '../../domain/shop/subscription-change.js';
import { PspError, type PspRegistry } from '../../psp/psp.js';
import type { ShopBasketChange, ShopStore } from '../../store/interface/shop.js';
import type { OutboxStore } from '../../store/store.js';
import type { Logger } from '../checkout.js';
import type { FetchedOffers, OfferCache } from './offers.js';
import { TOPIC_SHOP_ORDER, type ShopOrderPayload, type SubmissionContext } from './orders.js';

export const TOPIC_SUBSCRIPTION_CHANGE = 'shop.subscription-change';

export interface SubscriptionChangePayload {
  partnerId: string;
  subscriptionId: string;
  /** When the pending change is due (epoch ms); part of the message key. */
  effective: number;
}

/** What the order of a subscription change records (order.details.subscriptionChange). */
export interface ChangeOutcome {
  kind: 'upgrade' | 'downgrade';
  effective: number;
  charge: number;
  currency: string;
}

/** The quote a submission was priced with and its time (order.details.subscriptionQuote): what `confirm` applies. */
interface SubmittedQuote {
  quote: ChangeQuote;
  at: number;
}

/** A change as the routes answer it (SubscriptionCheckout, §3.4). */
export interface SubscriptionCheckout {
  basket: ShopBasket;
  subscription: Subscription;
  draft: SubscriptionChangeDraft;
  /** The subscription's offer when the change started (`forSubscriptionOffer`). */
  current: Offer;
  next: NextActions;
  plan: ChangePlan;
  /** Effective date and charge: as submitted for a completed change, else as if submitted now; null: nothing chosen. */
  outcome: ChangeOutcome | null;
  /** Names and prices of the plan's offers. */
  offers: FetchedOffers;
}

export type SubscriptionSelector = { id: string } | { name: string };

export interface SubscriptionChangeServiceOptions {
  shop: ShopStore;
  outbox: OutboxStore;
  offers: OfferCache;
  psps: PspRegistry;
  now: () => number;
  log: Logger;
}

/** Compare-and-set rounds of a PUT before it gives up (only under a storm of writers). */
const MAX_ROUNDS = 5;

/** The change an `update_subscription` basket holds; null for any other basket. */
export function draftOf(basket: ShopBasket): SubscriptionChangeDraft | null {
  if (basket.orderType !== 'update_subscription') return null;
  const d = basket.details.subscriptionChange;
  return typeof d === 'object' && d !== null ? (d as SubscriptionChangeDraft) : null;
}

function outcomeOf(quote: ChangeQuote): ChangeOutcome {
  return { kind: quote.kind, effective: quote.effective, charge: quote.charge, currency: quote.currency };
}

/** The basket's items: what the change adds (priced), so that totals and the abandoned listing show it. */
function itemsOf(plan: ChangePlan, offers: FetchedOffers): ShopItem[] {
  if (plan.kind === null) return []; // nothing chosen: nothing to submit (ShopOrderService refuses an empty basket)
  return plan.items.flatMap((i) => {
    const o = i.orderItemActionType === 'add' ? offers.get(i.offer) : undefined;
    if (!o) return [];
    return [{ id: newItemId(), type: i.type, offer: { ...i.offer }, productId: null, parentId: i.parentId, quantity: 1, name: o.name, unitPrice: o.price, currency: o.currency, taxRateBp: o.taxRateBp }];
  });
}

export class SubscriptionChangeService {
  readonly #o: SubscriptionChangeServiceOptions;

  constructor(opts: SubscriptionChangeServiceOptions) {
    this.#o = opts;
  }

  /** §3.4: a new `update_subscription` basket for the subscription. 404, 423 (pending change), else the checkout. */
  async start(partnerId: string, selector: SubscriptionSelector, details: Record<string, unknown>): Promise<SubscriptionCheckout> {
    const { shop, now } = this.#o;
    const found = 'id' in selector ? await shop.getSubscription(partnerId, selector.id) : await shop.getSubscriptionByName(partnerId, selector.name);
    if (!found) throw new SubscriptionChangeError(404, CHANGE_MESSAGES.subscriptionNotFound);
    let subscription = prepareStart(found, now()).subscription;
    if (subscription !== found) {
      // a due change the worker has not applied yet: apply it now (the same idempotent rule the worker runs)
      const written = await shop.updateSubscription(partnerId, found.id, (s) => {
        const start = prepareStart(s, now());
        return start.write ? start.subscription : null;
      });
      if (!written) throw new SubscriptionChangeError(404, CHANGE_MESSAGES.subscriptionNotFound);
      subscription = written;
    }
    const draft = startDraft(subscription);
    const offers = await this.#o.offers.fetch(partnerId, refsToResolve(draft));
    const current = this.#currentOffer(draft, offers);
    const at = now();
    const id = newBasketId();
    const basket: ShopBasket = {
      id,
      partnerId,
      orderType: 'update_subscription',
      externalId: null,
      items: [],
      status: 'open',
      submission: null,
      created: at,
      updated: at,
      expires: at + SHOP_BASKET_MS,
      details: { ...details, forSubscription: { id: subscription.id, name: subscription.name }, subscriptionChange: draft },
    };
    await shop.updateShopBasket(partnerId, id, (stored): ShopBasketChange<void> => {
      if (stored) throw new ShopRuleError(503, 'Basket id collision; try again');
      return { basket, result: undefined };
    });
    return this.#view(basket, subscription, draft, current, offers, null);
  }

  /** §3.5: the change of the basket; `missing` is the 404 message when there is none. */
  async read(partnerId: string, basketId: string | null, missing: string): Promise<SubscriptionCheckout> {
    const { shop, now } = this.#o;
    const stored = basketId === null ? null : await shop.getShopBasket(partnerId, basketId);
    const basket = stored?.basket;
    const draft = basket ? draftOf(basket) : null;
    if (!basket || !draft || isExpired(basket, now())) throw new SubscriptionChangeError(404, missing);
    const subscription = await shop.getSubscription(partnerId, draft.subscriptionId);
    if (!subscription) throw new SubscriptionChangeError(404, CHANGE_MESSAGES.subscriptionNotFound);
    const offers = await this.#o.offers.fetch(partnerId, refsToResolve(draft));
    const current = this.#currentOffer(draft, offers);
    let outcome: ChangeOutcome | null = null;
    if (basket.status === 'completed' && basket.submission) {
      const order = await shop.getShopOrder(partnerId, basket.submission.orderId);
      outcome = (order?.details.subscriptionChange as ChangeOutcome | undefined) ?? null;
    }
    return this.#view(basket, subscription, draft, current, offers, outcome);
  }

  /** §3.6: applies one PUT's actions to the change of the basket `basketId`. */
  async choose(partnerId: string, basketId: string | null, actions: readonly ChoiceAction[], missing: string): Promise<SubscriptionCheckout> {
    const { shop, now } = this.#o;
    const before = await this.read(partnerId, basketId, missing);
    const id = before.basket.id;
    const offers = await this.#o.offers.fetch(partnerId, refsToResolve(before.draft, actions));
    for (let round = 0; round < MAX_ROUNDS; round++) {
      offers.missed.length = 0;
      const at = now();
      const written = await shop.updateShopBasket(partnerId, id, (stored): ShopBasketChange<ShopBasket | null> => {
        const b = stored?.basket;
        const draft = b ? draftOf(b) : null;
        if (!b || !draft || isExpired(b, at)) throw new SubscriptionChangeError(404, missing);
        if (b.status === 'completed') throw new ShopRuleError(400, 'The subscription change is completed and can no longer be changed');
        if (b.status === 'submitting') throw new ShopRuleError(400, 'The subscription change is being submitted and cannot be changed');
        let next: SubscriptionChangeDraft;
        let plan: ChangePlan;
        try {
          next = chooseChange(draft, actions, offers.lookup);
          plan = planChange(next, offers.lookup);
        } catch (err) {
          // a concurrent PUT chose an offer not fetched here: fetch it and decide again
          if (offers.missed.length > 0) return { keep: true, result: null };
          throw err;
        }
        const basket: ShopBasket = { ...b, items: itemsOf(plan, offers), details: { ...b.details, subscriptionChange: next }, updated: at };
        return { basket, result: basket };
      });
      if (written) {
        const draft = draftOf(written)!;
        return this.#view(written, before.subscription, draft, before.current, offers, null);
      }
      offers.merge(await this.#o.offers.fetch(partnerId, offers.missed));
    }
    throw new ShopRuleError(503, 'The basket kept changing; try again');
  }

  /**
   * ShopOrderService's hook for `update_subscription` baskets, steps 1–2: the change quoted, checked and priced on the
   * order (with the quote, for `confirm`), its charge made. Returns the order, still pending; refused: order failed,
   * basket open, the error rethrown.
   */
  readonly submit = async (ctx: SubmissionContext): Promise<ShopOrder> => {
    const { shop, now } = this.#o;
    const { basket, order, partner } = ctx;
    const draft = draftOf(basket);
    if (!draft) return this.#refuse(basket, order, new ShopRuleError(400, 'The basket holds no subscription change'));
    try {
      const subscription = await shop.getSubscription(basket.partnerId, draft.subscriptionId);
      if (!subscription) throw new SubscriptionChangeError(404, CHANGE_MESSAGES.subscriptionNotFound);
      const offers = await this.#o.offers.fetch(basket.partnerId, refsToResolve(draft));
      const at = now();
      const quote = quoteChange(subscription, draft, offers.lookup, at);
      if (!quote) throw new SubscriptionChangeError(400, CHANGE_MESSAGES.nothingChosen);
      const fresh = applySubmittedChange(subscription, draft, quote, at) !== null; // throws 409/423 before any money moves
      const prior = order.details.subscriptionChange as ChangeOutcome | undefined;
      // a submission taken over keeps the first run's amount; a change found in place (and never charged) costs nothing
      const outcome: ChangeOutcome = prior ?? { ...outcomeOf(quote), charge: fresh ? quote.charge : 0 };
      const submitted: SubmittedQuote = { quote, at };
      const priced = await shop.updateShopOrder(order.partnerId, order.id, (o) =>
        o.status === 'pending'
          ? {
              ...o,
              total: outcome.charge,
              currency: outcome.currency,
              details: { ...o.details, subscriptionReference: draft.subscriptionId, subscriptionChange: outcome, subscriptionQuote: o.details.subscriptionQuote ?? submitted },
              updated: now(),
            }
          : null,
      );
      const current = priced ?? order;
      return outcome.charge > 0 ? await this.#charge(partner, basket, current, outcome) : current;
    } catch (err) {
      if (err instanceof ShopRuleError) return this.#refuse(basket, order, err);
      throw err; // store trouble: the basket's lease lets a retry take the submission over
    }
  };

  /**
   * Steps 3–5, once the order's charge succeeded (at once, or on the provider's webhook) or there was none: the
   * downgrade's application queued, the change the submission quoted applied by compare-and-set (refused: the payment
   * cancelled, or logged for a refund when it is too late), the order completed. Idempotent: the same change already
   * in place is success. Refused: order failed, basket open, the error rethrown.
   */
  readonly confirm = async (ctx: SubmissionContext): Promise<ShopOrder> => {
    const { shop } = this.#o;
    const { basket, order, partner } = ctx;
    const draft = draftOf(basket);
    const outcome = order.details.subscriptionChange as ChangeOutcome | undefined;
    const submitted = order.details.subscriptionQuote as SubmittedQuote | undefined;
    if (!draft || !outcome || !submitted) return this.#refuse(basket, order, new ShopRuleError(400, 'The basket holds no subscription change'));
    try {
      if (outcome.kind === 'downgrade') {
        const payload: SubscriptionChangePayload = { partnerId: basket.partnerId, subscriptionId: draft.subscriptionId, effective: outcome.effective };
        await this.#o.outbox.enqueue([{ topic: TOPIC_SUBSCRIPTION_CHANGE, key: `${payload.partnerId}/${payload.subscriptionId}/${payload.effective}`, payload, availableAt: payload.effective }]);
      }
      try {
        const applied = await shop.updateSubscription(basket.partnerId, draft.subscriptionId, (s) => applySubmittedChange(s, draft, submitted.quote, submitted.at));
        if (!applied) throw new SubscriptionChangeError(404, CHANGE_MESSAGES.subscriptionNotFound);
      } catch (err) {
        if (order.paymentRef) await this.#cancelPayment(partner, order);
        throw err;
      }
      return await this.#complete(order);
    } catch (err) {
      if (err instanceof ShopRuleError) return this.#refuse(basket, order, err);
      throw err; // store trouble: the lease (or the provider's webhook retry) runs it again
    }
  };

  /** The outbox handler of TOPIC_SUBSCRIPTION_CHANGE: applies the pending change once it is due. Idempotent. */
  readonly applyDue = async (payload: SubscriptionChangePayload): Promise<void> => {
    const { shop, now, outbox } = this.#o;
    const at = now();
    const s = await shop.updateSubscription(payload.partnerId, payload.subscriptionId, (sub) => applyDueChange(sub, at));
    const pending = s?.pendingChange;
    if (pending && pending.effective > at) {
      // its date moved (the subscription was reloaded): come back then
      const next: SubscriptionChangePayload = { ...payload, effective: pending.effective };
      await outbox.enqueue([{ topic: TOPIC_SUBSCRIPTION_CHANGE, key: `${next.partnerId}/${next.subscriptionId}/${next.effective}`, payload: next, availableAt: next.effective }]);
    }
  };

  #currentOffer(draft: SubscriptionChangeDraft, offers: FetchedOffers): Offer {
    const current = offers.get(draft.from.offer);
    // the admin API loads only subscriptions whose offers exist, and offer versions are never deleted
    if (!current) throw new ShopRuleError(409, `The subscription's offer ${draft.from.offer.id} version ${draft.from.offer.version} is not loaded`);
    return current;
  }

  async #view(basket: ShopBasket, subscription: Subscription, draft: SubscriptionChangeDraft, current: Offer, offers: FetchedOffers, outcome: ChangeOutcome | null): Promise<SubscriptionCheckout> {
    const { shop, now } = this.#o;
    const newest = await shop.getNewestOffers(basket.partnerId, nextActionIds(current));
    const held = draft.from.addOns.flatMap((r) => offers.get(r) ?? []);
    const plan = planChange(draft, offers.lookup);
    offers.add(newest);
    let shown = outcome;
    if (shown === null && basket.status !== 'completed') {
      // as if submitted now; a subscription that moved since the start still shows the change as chosen
      const quote = quoteChange(subscription, draft, offers.lookup, now());
      shown = quote ? outcomeOf(quote) : null;
    }
    return { basket, subscription, draft, current, next: nextActions(current, newest, held), plan, outcome: shown, offers };
  }

  async #charge(partner: PartnerConfig, basket: ShopBasket, order: ShopOrder, outcome: ChangeOutcome): Promise<ShopOrder> {
    const { shop, psps, log, now } = this.#o;
    let provider: string | null = null;
    try {
      const psp = psps.forPartner(partner);
      provider = psp.name;
      const payment = await psp.createPayment(partner, {
        orderNo: order.id,
        partnerId: partner.id,
        userId: basket.id,
        amount: outcome.charge,
        currency: outcome.currency,
        testMode: null,
        language: null,
        country: null,
        usingSdk: true, // the shop's front end confirms a Stripe payment with Stripe.js: it needs the client secret
        comfort: null,
      });
      const charged = await shop.updateShopOrder(order.partnerId, order.id, (o) =>
        o.status === 'pending'
          ? { ...o, paymentProvider: provider, paymentRef: payment.ref, details: { ...o.details, payment: payment.fields, testMode: payment.testMode }, updated: now() }
          : null,
      );
      return charged ?? order;
    } catch (err) {
      if (!(err instanceof PspError) && !(err instanceof BasketError)) throw err;
      log.warn({ err, orderId: order.id, psp: provider }, 'subscription change: payment failed');
      const why = err instanceof BasketError ? err.message : 'the payment provider declined or failed';
      throw new ShopRuleError(502, `Payment failed: ${why}; the basket is open for another try`);
    }
  }

  /** Best effort: a payment whose change was refused at the last step is cancelled (logged when it cannot be). */
  async #cancelPayment(partner: PartnerConfig, order: ShopOrder): Promise<void> {
    const { psps, log, shop } = this.#o;
    try {
      const fresh = (await shop.getShopOrder(order.partnerId, order.id)) ?? order;
      if (!fresh.paymentProvider || !fresh.paymentRef) return;
      const outcome = await psps.forOrder(fresh.paymentProvider).cancelPayment(partner, fresh.paymentRef, fresh.details.testMode === true);
      if (outcome === 'succeeded') log.error({ orderId: order.id }, 'subscription change refused after its payment succeeded; refund it');
    } catch (err) {
      log.error({ err, orderId: order.id }, 'subscription change refused; cancelling its payment failed; refund it');
    }
  }

  /** Delivery queued, then the order completed (a completed order has always been queued). */
  async #complete(order: ShopOrder): Promise<ShopOrder> {
    const { shop, outbox, now } = this.#o;
    if (order.status === 'completed') return order;
    const payload: ShopOrderPayload = { partnerId: order.partnerId, orderId: order.id };
    await outbox.enqueue([{ topic: TOPIC_SHOP_ORDER, key: `${order.partnerId}/${order.id}`, payload, availableAt: now() }]);
    const done = await shop.updateShopOrder(order.partnerId, order.id, (o) => (o.status === 'pending' ? { ...o, status: 'completed', updated: now() } : null));
    return done ?? (await shop.getShopOrder(order.partnerId, order.id)) ?? order;
  }

  /** A refused submission: the order failed, the basket open again (if still this submission's); rethrows `err`. */
  async #refuse(basket: ShopBasket, order: ShopOrder, err: ShopRuleError): Promise<never> {
    const { shop, now } = this.#o;
    await shop.updateShopOrder(order.partnerId, order.id, (o) => (o.status === 'pending' ? { ...o, status: 'failed', updated: now() } : null));
    await shop.updateShopBasket(basket.partnerId, basket.id, (stored) => {
      const b = stored?.basket;
      if (!b || b.status !== 'submitting' || b.submission?.orderId !== order.id) return { keep: true, result: undefined };
      return { basket: { ...b, status: 'open', submission: null, updated: now() }, result: undefined };
    });
    throw err;
  }
}
