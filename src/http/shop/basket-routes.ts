/**
 * `POST /api/checkout/initiate` (shop-api.md §3.2) and `PUT /api/checkout/update` (§3.3). Both answer with the
 * landing-state cookie (`limio_state`, §1) of the basket, Max-Age its remaining lifetime.
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyReply } from 'fastify';
import { MSG_NO_BASKET_IN_LANDING_STATE, badRequest } from '../../domain/shop/errors.js';
import type { OfferItemRequest, UpdateAction } from '../../domain/shop/items.js';
import { landingStateCookie, landingStateOf } from '../../domain/shop/landing-state.js';
import type { ShopBasket } from '../../domain/shop/records.js';
import { shopClientOf } from './auth.js';
import { basketView, InitiateBody, InitiateResponse, UpdateBody, UpdateResponse, type InitiateBodyT, type UpdateBodyT } from './checkout-schemas.js';
import type { ShopRoutePlugin } from './index.js';

const security = [{ ShopOAuth: ['checkout'] }];

export function setLandingState(reply: FastifyReply, basket: ShopBasket, now: number): void {
  reply.header('Set-Cookie', landingStateCookie(basket.id, basket.expires - now));
}

function detailsOf(order: InitiateBodyT['order']): Record<string, unknown> {
  const details: Record<string, unknown> = {};
  for (const key of ['customerDetails', 'customFields', 'tracking', 'country', 'source'] as const) {
    if (order[key] !== undefined) details[key] = order[key];
  }
  return details;
}

function updateActions(body: UpdateBodyT): UpdateAction[] {
  return body.orderItems.map((a, n): UpdateAction => {
    const where = `orderItems/${n}`;
    if (a.orderItemActionType === 'add') {
      if (!a.offer) throw badRequest(`${where}: add needs an offer {id, version}`);
      if (a.id !== undefined) throw badRequest(`${where}: add takes no id (the service names new items)`);
      const item: OfferItemRequest = { type: a.type ?? 'offer', offer: a.offer, quantity: a.quantity ?? 1, parentId: a.parentId ?? null };
      return { action: 'add', item };
    }
    if (a.id === undefined) throw badRequest(`${where}: ${a.orderItemActionType} needs the id of an order item`);
    if (a.offer !== undefined || a.type !== undefined || a.parentId !== undefined) throw badRequest(`${where}: ${a.orderItemActionType} takes only an id${a.orderItemActionType === 'quantity' ? ' and a quantity' : ''}`);
    if (a.orderItemActionType === 'remove') {
      if (a.quantity !== undefined) throw badRequest(`${where}: remove takes no quantity`);
      return { action: 'remove', id: a.id };
    }
    if (a.quantity === undefined) throw badRequest(`${where}: quantity needs a quantity`);
    return { action: 'quantity', id: a.id, quantity: a.quantity };
  });
}

export const basketRoutes: ShopRoutePlugin = async (plain, opts) => {
  const app = plain.withTypeProvider<TypeBoxTypeProvider>();
  const { checkout, now } = opts;

  app.post(
    '/checkout/initiate',
    {
      schema: {
        tags: ['Shop: Checkout'],
        operationId: 'shopInitiateCheckout',
        summary: 'Create a checkout basket (or replace the open one of an external_id)',
        description:
          'Items are offers `{id, version}` and their add-ons (`parentId`: the offer item, by its offer id). With `jayToken` ' +
          '(a device transfer token), the TV basket\'s products become items, once. Sets the landing-state cookie `limio_state`.',
        security,
        body: InitiateBody,
        response: { 200: InitiateResponse },
        'x-shop-errors': {
          400: ['Unknown offer monthly version 9', 'Offer monthly does not list add-on extra as a cross-sell', 'jayToken is unknown, used or expired', 'quantity must be an integer from 1 to 99'],
          503: ['The basket of external_id order-17 kept changing; try again'],
        },
      },
    },
    async (req, reply) => {
      const { partnerId } = shopClientOf(req);
      const { order } = req.body;
      const basket = await checkout.baskets.initiate(partnerId, {
        orderItems: (order.orderItems ?? []).map((i) => ({ type: i.type, offer: i.offer, quantity: i.quantity, parentId: i.parentId ?? null })),
        externalId: order.external_id ?? null,
        jayToken: order.jayToken ?? null,
        details: detailsOf(order),
      });
      setLandingState(reply, basket, now());
      return { id: basket.id };
    },
  );

  app.put(
    '/checkout/update',
    {
      schema: {
        tags: ['Shop: Checkout'],
        operationId: 'shopUpdateCheckout',
        summary: 'Change the items of the basket in the landing state',
        description:
          '`add` (an offer, or an add-on with `parentId`: the item id of its offer item), `remove` (by item id; an offer ' +
          'item takes its add-ons along) and `quantity` (by item id), applied in order, all or nothing.',
        security,
        body: UpdateBody,
        response: { 200: UpdateResponse },
        'x-shop-errors': {
          400: ['No order item item-0a1b2c3d4e5f in the basket', 'The basket is completed and can no longer be changed', 'All items of a basket must be in one currency (found EUR, USD)'],
          404: [MSG_NO_BASKET_IN_LANDING_STATE],
        },
      },
    },
    async (req, reply) => {
      const { partnerId } = shopClientOf(req);
      const actions = updateActions(req.body);
      const basket = await checkout.baskets.update(partnerId, landingStateOf(req.headers.cookie), actions);
      setLandingState(reply, basket, now());
      return basketView(basket);
    },
  );
};
