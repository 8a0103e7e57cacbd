/**
 * Orders as the app sees them, and their delivery to the partner: the `order.process` handler posts the order
 * to the partner's `orderWebhookUrl`, signed with HMAC-SHA256 (`X-Basket-Signature: t=<unix seconds>,v1=<hex of
 * HMAC(secret, "<t>.<body>")>`), or logs it when no webhook is configured. At-least-once: a non-2xx answer or a
 * network error throws, and the outbox retries with backoff; receivers deduplicate by `X-Basket-Delivery-Id`.
 */
import { createHmac } from 'node:crypto';
import type { PartnerConfig } from '../config.js';
import { macTextMatches } from '../domain/mac-text.js';
import { isoSeconds } from '../domain/time.js';
import { toMajor } from '../domain/money.js';
import type { Order } from '../store/store.js';
import type { OrderStore } from '../store/store.js';
import type { Logger, OrderPayload } from './checkout.js';

export interface OrderLineView {
  productId: string;
  count: number;
  stocked: number | null;
  name: string;
  unitPrice: number;
  taxRate: number;
  lineTotal: number;
  lineTax: number;
}

export interface OrderView {
  orderNo: string;
  status: Order['status'];
  currency: string;
  fullPrice: number;
  fullTax: number;
  shippingCost: number;
  testMode: boolean;
  paymentProvider: string;
  payment: Record<string, unknown>;
  lines: OrderLineView[];
  created: string;
  updated: string;
}

/** Money as decimals in major units; tax rate in percent. */
export function orderView(o: Order): OrderView {
  const m = (minor: number) => toMajor(minor, o.currency);
  return {
    orderNo: o.orderNo,
    status: o.status,
    currency: o.currency,
    fullPrice: m(o.fullPrice),
    fullTax: m(o.fullTax),
    shippingCost: m(o.shippingCost),
    testMode: o.testMode,
    paymentProvider: o.paymentProvider,
    payment: o.payment,
    lines: o.lines.map((l) => ({
      productId: l.productId,
      count: l.count,
      stocked: l.stocked,
      name: l.name,
      unitPrice: m(l.unitPrice),
      taxRate: l.taxRateBp / 100,
      lineTotal: m(l.lineTotal),
      lineTax: m(l.lineTax),
    })),
    created: isoSeconds(o.created),
    updated: isoSeconds(o.updated),
  };
}

const bodyMac = (secret: string, timestampSec: number, body: string): Buffer =>
  createHmac('sha256', secret).update(`${timestampSec}.${body}`).digest();

export function signBody(secret: string, timestampSec: number, body: string): string {
  return `t=${timestampSec},v1=${bodyMac(secret, timestampSec, body).toString('hex')}`;
}

/**
 * For receivers (and tests): checks an `X-Basket-Signature` header against the body. `t` must be decimal digits and
 * `v1` 64 hex digits (either case), compared as text (src/domain/mac-text.ts).
 */
export function verifySignature(secret: string, header: string, body: string, nowSec: number, toleranceSec = 300): boolean {
  const parts = Object.fromEntries(header.split(',').map((p) => p.split('=', 2) as [string, string]));
  if (!/^\d{1,15}$/.test(parts.t ?? '') || !/^[0-9a-f]{64}$/i.test(parts.v1 ?? '')) return false;
  const t = Number(parts.t);
  if (Math.abs(nowSec - t) > toleranceSec) return false;
  return macTextMatches(bodyMac(secret, t, body), parts.v1!.toLowerCase(), 'hex');
}

export class DeliveryError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DeliveryError';
  }
}

export interface SignedPost {
  /** What the webhook is, for the error messages ("order", "basket", ...). */
  kind: string;
  url: string;
  /** No secret: sent unsigned (the order webhook allows it). */
  secret: string | null | undefined;
  deliveryId: string;
  body: string;
  nowMs: number;
  timeoutMs: number;
}

/**
 * POSTs one webhook delivery: JSON body, `X-Basket-Delivery-Id`, `X-Basket-Signature` when there is a secret.
 * Rejects with DeliveryError when the receiver cannot be reached or answers other than 2xx (the outbox retries).
 */
export async function postSignedWebhook(p: SignedPost): Promise<void> {
  const headers: Record<string, string> = { 'content-type': 'application/json', 'x-basket-delivery-id': p.deliveryId };
  if (p.secret) headers['x-basket-signature'] = signBody(p.secret, Math.floor(p.nowMs / 1000), p.body);
  let res: Response;
  try {
    res = await fetch(p.url, { method: 'POST', headers, body: p.body, signal: AbortSignal.timeout(p.timeoutMs) });
  } catch (err) {
    throw new DeliveryError(`${p.kind} webhook unreachable: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  await res.body?.cancel();
  if (res.status < 200 || res.status >= 300) throw new DeliveryError(`${p.kind} webhook answered ${res.status}`);
}

export interface OrderDeliveryOptions {
  store: OrderStore;
  partner: (partnerId: string) => PartnerConfig | undefined;
  now: () => number;
  log: Logger;
  timeoutMs?: number;
}

export class OrderDelivery {
  constructor(private readonly opts: OrderDeliveryOptions) {}

  /** The `order.process` handler: delivers an `ordered` or `paid` order once its status says so. */
  async handle(payload: OrderPayload): Promise<void> {
    const { store, log } = this.opts;
    const order = await store.getOrder(payload.partnerId, payload.orderNo);
    if (!order) {
      log.warn({ ...payload }, 'order.process: order not found');
      return;
    }
    const deliverable = payload.event === 'paid' ? order.status === 'paid' : order.status === 'ordered' || order.status === 'paid';
    if (!deliverable) {
      log.info({ orderNo: order.orderNo, status: order.status, event: payload.event }, 'order.process: nothing to deliver');
      return;
    }
    const partner = this.opts.partner(order.partnerId);
    if (!partner?.orderWebhookUrl) {
      log.info({ order: orderView(order), partnerId: order.partnerId }, 'order placed (no order webhook configured)');
      return;
    }
    const body = JSON.stringify({ event: `order.${payload.event}`, partnerId: order.partnerId, userId: order.userId, order: orderView(order) });
    await postSignedWebhook({
      kind: 'order',
      url: partner.orderWebhookUrl,
      secret: partner.orderWebhookSecret,
      deliveryId: `${order.partnerId}/${order.orderNo}/${payload.event}`,
      body,
      nowMs: this.opts.now(),
      timeoutMs: this.opts.timeoutMs ?? 10_000,
    });
    log.info({ orderNo: order.orderNo, event: payload.event }, 'order delivered');
  }
}
