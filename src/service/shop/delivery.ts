/**
 * The `shop.order` outbox handler: a completed shop order is posted to the partner's order webhook, signed like
 * device orders (`X-Basket-Signature`, src/service/orders.ts), or logged when the partner has none. At-least-once:
 * receivers deduplicate by `X-Basket-Delivery-Id`. An order still pending is not settled yet (its submission is
 * running, or will be taken over): the handler throws so that the outbox tries again later.
 */
import type { PartnerConfig } from '../../config.js';
import { isoSeconds } from '../../domain/time.js';
import { toMajor } from '../../domain/money.js';
import type { ShopOrder } from '../../domain/shop/records.js';
import type { ShopStore } from '../../store/interface/shop.js';
import type { OutboxMessage } from '../../store/store.js';
import type { Logger } from '../checkout.js';
import { DeliveryError, postSignedWebhook } from '../orders.js';
import type { ShopOrderPayload } from './orders.js';

/** Claims of a message whose order stays pending before it is given up (with the outbox's backoff: days). */
const MAX_PENDING_ATTEMPTS = 30;

export interface ShopOrderDeliveryOptions {
  shop: ShopStore;
  partner: (partnerId: string) => PartnerConfig | undefined;
  now: () => number;
  log: Logger;
  timeoutMs?: number;
}

/** The order as the webhook carries it: money in major units. */
export function shopOrderEvent(o: ShopOrder): Record<string, unknown> {
  return {
    event: 'shop.order.completed',
    partnerId: o.partnerId,
    order: {
      id: o.id,
      order_reference: o.details.orderReference ?? null,
      basketId: o.basketId,
      external_id: o.externalId,
      status: o.status,
      total: { amount: toMajor(o.total, o.currency), currency: o.currency },
      paymentProvider: o.paymentProvider,
      created: isoSeconds(o.created),
    },
  };
}

export class ShopOrderDelivery {
  constructor(private readonly opts: ShopOrderDeliveryOptions) {}

  async handle(payload: ShopOrderPayload, message: Pick<OutboxMessage, 'attempts'>): Promise<void> {
    const { shop, log } = this.opts;
    const order = await shop.getShopOrder(payload.partnerId, payload.orderId);
    if (!order || order.status === 'failed') {
      log.info({ ...payload, status: order?.status ?? null }, 'shop.order: nothing to deliver');
      return;
    }
    if (order.status === 'pending') {
      if (message.attempts >= MAX_PENDING_ATTEMPTS) {
        log.error({ ...payload }, 'shop.order: the order stayed pending; given up');
        return;
      }
      throw new DeliveryError(`shop order ${order.id} is still pending`);
    }
    const partner = this.opts.partner(order.partnerId);
    const body = JSON.stringify(shopOrderEvent(order));
    if (!partner?.orderWebhookUrl) {
      log.info({ orderId: order.id, partnerId: order.partnerId }, 'shop order placed (no order webhook configured)');
      return;
    }
    await postSignedWebhook({
      kind: 'order',
      url: partner.orderWebhookUrl,
      secret: partner.orderWebhookSecret,
      deliveryId: `${order.partnerId}/${order.id}/shop`,
      body,
      nowMs: this.opts.now(),
      timeoutMs: this.opts.timeoutMs ?? 10_000,
    });
    log.info({ orderId: order.id }, 'shop order delivered');
  }
}
