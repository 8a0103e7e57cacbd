/**
 * Stripe webhooks: `POST /psp/stripe/webhook`. The raw body (a route-scoped buffer parser) is verified with the
 * endpoint secret of a partner (`stripe.webhookSecret`; each configured partner is tried) by the SDK's
 * `constructEvent`, which also refuses timestamps older than 5 minutes (replays). Only
 * `payment_intent.succeeded` marks an order paid, and only when the intent's amount and currency are the
 * order's. `payment_intent.canceled` gives up an order that was ordered but never paid (its stock returned).
 * Duplicates change nothing (the handlers are idempotent).
 *
 * An intent that is no device order's may be a shop order's (shop-api.md §3.7, src/service/shop/orders.ts):
 * `succeeded` completes it (amount and currency checked the same way), `payment_failed` and `canceled` fail it
 * and reopen its basket.
 *
 * The route takes no authentication that could be checked before the body (the signature covers it), so what can
 * be checked is, as the request arrives (issue 17): some partner has a webhook secret, and `Stripe-Signature` is
 * well-formed with a v1 signature and a timestamp within the tolerance. Only then is the body read, up to 64 KiB
 * (payment_intent events are a few KiB).
 */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import type Stripe from 'stripe';
import type { PartnerRegistry } from '../../auth/partners.js';
import type { PartnerConfig } from '../../config.js';
import type { CheckoutService } from '../../service/checkout.js';
import type { ShopOrderService } from '../../service/shop/orders.js';
import type { ShopStore } from '../../store/interface/shop.js';
import { PspError } from '../../psp/psp.js';
import { loadSdk } from '../../psp/stripe.js';
import { BasketError } from '../../domain/errors.js';
import { sendError } from '../errors.js';
import { ok } from './baskets.js';

export interface StripeWebhookOptions {
  checkout: CheckoutService;
  partners: PartnerRegistry;
  now: () => number;
  /** Signature tolerance in seconds (default 300, the SDK's). */
  toleranceSec?: number;
  /** Shop orders paid with Stripe; absent: only device orders are looked up. */
  shop?: { store: Pick<ShopStore, 'getShopOrderByPaymentRef'>; orders: Pick<ShopOrderService, 'paymentSucceeded' | 'paymentFailed'> };
}

type IntentEvent = Stripe.PaymentIntentSucceededEvent | Stripe.PaymentIntentCanceledEvent | Stripe.PaymentIntentPaymentFailedEvent;

function isIntentEvent(event: Stripe.Event): event is IntentEvent {
  return event.type === 'payment_intent.succeeded' || event.type === 'payment_intent.canceled' || event.type === 'payment_intent.payment_failed';
}

/** The webhook's body limit: Stripe's events of interest are a few KiB. */
export const WEBHOOK_BODY_LIMIT = 64 * 1024;

/** `t=<unix seconds>` and at least one `v1=<64 hex>`, as Stripe sends (other schemes may come along). */
function signatureTimestamp(header: string): number | null {
  let t: number | null = null;
  let v1 = false;
  for (const item of header.split(',')) {
    const eq = item.indexOf('=');
    const key = item.slice(0, eq).trim();
    const value = item.slice(eq + 1).trim();
    if (key === 't' && /^\d{1,12}$/.test(value)) t = Number(value);
    else if (key === 'v1' && /^[0-9a-f]{64}$/.test(value)) v1 = true;
  }
  return v1 ? t : null;
}

export const stripeWebhookRoutes: FastifyPluginAsync<StripeWebhookOptions> = async (app, opts) => {
  const { checkout, partners } = opts;

  /** An intent of no device order: a shop order's, if any. Returns whether it changed something. */
  const shopIntent = async (event: IntentEvent, partner: PartnerConfig, log: FastifyRequest['log']): Promise<boolean> => {
    const intent = event.data.object;
    const order = opts.shop ? await opts.shop.store.getShopOrderByPaymentRef('stripe', intent.id) : null;
    if (!opts.shop || !order || order.partnerId !== partner.id) {
      log.warn({ intent: intent.id, partner: partner.id }, 'stripe webhook for an unknown payment intent');
      return false;
    }
    if (order.status !== 'pending') return false; // a duplicate, or an outcome already decided
    if (event.type !== 'payment_intent.succeeded') {
      try {
        return (await opts.shop.orders.paymentFailed(partner, order)).status !== 'pending';
      } catch (err) {
        if (!(err instanceof PspError)) throw err;
        // Stripe could not be asked to cancel the payment: 502, and Stripe delivers the event again later
        log.warn({ err, orderId: order.id }, 'stripe webhook: cancelling the failed payment failed');
        throw new BasketError('PAYMENT_PROVIDER_ERROR', 'Stripe could not be reached; deliver the event again');
      }
    }
    const received = intent.amount_received || intent.amount;
    if (received !== order.total || intent.currency.toUpperCase() !== order.currency) {
      log.error({ orderId: order.id, received, currency: intent.currency }, 'stripe payment does not match the shop order: not completed');
      return false;
    }
    return (await opts.shop.orders.paymentSucceeded(partner, order)).status === 'completed';
  };
  const toleranceSec = opts.toleranceSec ?? 300;
  // this plugin's context only: the body stays the exact bytes Stripe signed
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: WEBHOOK_BODY_LIMIT }, (_req, body, done) => done(null, body));

  /** Everything that can be judged before the body is read; the answer is given without reading it. */
  const beforeBody = (req: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction) => {
    const signature = req.headers['stripe-signature'];
    if (typeof signature !== 'string' || signature === '') {
      return done(new BasketError('BAD_REQUEST', 'Stripe-Signature header and a body are required', 'SIGNATURE_MISSING'));
    }
    const t = signatureTimestamp(signature);
    const configured = partners.all().some((p) => p.stripe?.webhookSecret);
    if (!configured || t === null || Math.abs(opts.now() / 1000 - t) > toleranceSec) {
      req.log.warn('stripe webhook with an invalid signature');
      return done(new BasketError('BAD_REQUEST', 'Invalid Stripe signature', 'SIGNATURE_INVALID'));
    }
    done();
  };

  app.post('/psp/stripe/webhook', { schema: { hide: true }, onRequest: beforeBody, bodyLimit: WEBHOOK_BODY_LIMIT }, async (req, reply) => {
    const raw = req.body;
    const signature = req.headers['stripe-signature'];
    if (!Buffer.isBuffer(raw) || typeof signature !== 'string') {
      return sendError(reply, 'BAD_REQUEST', 'Stripe-Signature header and a body are required', 'SIGNATURE_MISSING');
    }
    let event: Stripe.Event | null = null;
    let partner: PartnerConfig | null = null;
    const secrets = partners.all().flatMap((p) => (p.stripe?.webhookSecret ? [{ p, secret: p.stripe.webhookSecret }] : []));
    if (secrets.length > 0) {
      // the SDK is loaded by the first webhook, not at start (see src/psp/stripe.ts)
      const Sdk = await loadSdk();
      for (const { p, secret } of secrets) {
        try {
          event = Sdk.webhooks.constructEvent(raw, signature, secret, toleranceSec, undefined, opts.now());
          partner = p;
          break;
        } catch {
          // not this partner's secret (or tampered / too old): try the next
        }
      }
    }
    if (!event || !partner) {
      req.log.warn('stripe webhook with an invalid signature');
      return sendError(reply, 'BAD_REQUEST', 'Invalid Stripe signature', 'SIGNATURE_INVALID');
    }

    if (isIntentEvent(event)) {
      const intent = event.data.object;
      const order = await checkout.store.getOrderByPaymentRef('stripe', intent.id);
      if (!order) return ok({ received: true, handled: await shopIntent(event, partner, req.log) });
      if (order.partnerId !== partner.id) {
        req.log.warn({ intent: intent.id, partner: partner.id }, 'stripe webhook for an unknown payment intent');
        return ok({ received: true, handled: false });
      }
      if (event.type === 'payment_intent.payment_failed') return ok({ received: true, handled: false }); // the customer may retry; the session decides
      if (event.type === 'payment_intent.canceled') return ok({ received: true, handled: await checkout.paymentCanceled(order) });
      const received = intent.amount_received || intent.amount;
      if (received !== order.fullPrice || intent.currency.toUpperCase() !== order.currency) {
        req.log.error({ orderNo: order.orderNo, received, currency: intent.currency }, 'stripe payment does not match the order: not marked paid');
        return ok({ received: true, handled: false });
      }
      await checkout.paymentSucceeded(order);
      return ok({ received: true, handled: true });
    }
    req.log.info({ type: event.type, id: event.id }, 'stripe webhook ignored');
    return ok({ received: true, handled: false });
  });
};
