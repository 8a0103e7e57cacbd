/**
 * `POST /api/order` (shop-api.md §3.7): submits a basket; the same basket submitted again (also concurrently)
 * answers the same order.
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { MSG_BASKET_NOT_FOUND, notFound } from '../../domain/shop/errors.js';
import { isBasketId } from '../../domain/shop/ids.js';
import { shopClientOf } from './auth.js';
import { OrderBody, OrderResponse, orderView } from './checkout-schemas.js';
import { ShopError } from './errors.js';
import type { ShopRoutePlugin } from './index.js';

export const orderRoute: ShopRoutePlugin = async (plain, opts) => {
  const app = plain.withTypeProvider<TypeBoxTypeProvider>();
  const { checkout, partners } = opts;

  app.post(
    '/order',
    {
      schema: {
        tags: ['Shop: Checkout'],
        operationId: 'shopSubmitOrder',
        summary: 'Submit a basket: the order is created and charged, the basket completed',
        description:
          'Idempotent per basket: a repeated or concurrent submit answers the first order. When the payment provider declines ' +
          'or fails: 502, and the basket stays open for another submit. With a provider that confirms payments by webhook ' +
          '(Stripe) the order is answered `pending` with `payment` (the client secret to confirm it with); its webhook ' +
          'completes it (or fails it and reopens the basket), and until then a repeated submit answers the same pending order.',
        security: [{ ShopOAuth: ['checkout'] }],
        body: OrderBody,
        response: { 200: OrderResponse },
        'x-shop-errors': {
          400: ['The basket has no items'],
          404: [MSG_BASKET_NOT_FOUND],
          502: ['Payment failed: the payment provider declined or failed; the basket is open for another try'],
        },
      },
    },
    async (req) => {
      const { partnerId } = shopClientOf(req);
      const partner = partners.byId(partnerId);
      if (!partner) throw new ShopError(401, 'The client\'s partner is no longer configured');
      // no basket can have another shape of id: not looked up at all
      if (!isBasketId(req.body.checkoutId)) throw notFound(MSG_BASKET_NOT_FOUND);
      const order = await checkout.orders.submit(partner, {
        checkoutId: req.body.checkoutId,
        customerDetails: req.body.customerDetails ?? null,
        billingDetails: req.body.billingDetails ?? null,
        testMode: req.body.payment?.testMode ?? null,
      });
      return orderView(order);
    },
  );
};
