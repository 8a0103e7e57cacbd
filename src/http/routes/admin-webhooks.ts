/**
 * The operator's replay of basket webhooks (issue 22): `POST /admin/webhooks:replay?partner=` with the baskets
 * (user ids) or the delivery ids a receiver lost. A basket webhook carries the basket's state, so a replay sends
 * the current state of each basket named, as a new `basket.changed` delivery (signed and retried as any other);
 * the service keeps no log of past deliveries (docs/decisions.md).
 */
import { Type } from 'typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { PartnerRegistry } from '../../auth/partners.js';
import { BasketError } from '../../domain/errors.js';
import type { BasketWebhooks } from '../../service/basket-webhooks.js';
import { envelope, errorResponses, UserIdSchema } from '../schemas.js';
import { adminKeyHook, adminPartner } from './admin.js';
import { ok } from './baskets.js';

export interface AdminWebhookRoutesOptions {
  webhooks: BasketWebhooks;
  partners: PartnerRegistry;
  adminKey: string | null;
}

/** Most baskets one replay names. */
const MAX_REPLAY = 100;
/** `<kind>:<window or uuid>:<partner>:<user>`: partner ids hold no colon, user ids may. */
const DELIVERY_ID = /^(changed|abandoned|replay):[^:]+:([A-Za-z0-9._-]{1,64}):(.+)$/s;

/** The basket a delivery id names, if it is one of this partner's. */
export function deliveryBasket(deliveryId: string, partnerId: string): string | null {
  const m = DELIVERY_ID.exec(deliveryId);
  return m && m[2] === partnerId ? m[3]! : null;
}

export const adminWebhookRoutes: FastifyPluginAsyncTypebox<AdminWebhookRoutesOptions> = async (app, { webhooks, partners, adminKey }) => {
  app.addHook('onRequest', adminKeyHook(adminKey));

  app.post(
    '/admin/webhooks::replay',
    {
      schema: {
        security: [{ AdminKey: [] }],
        tags: ['Admin'],
        operationId: 'replayBasketWebhooks',
        summary: "Sends the current state of the named baskets to the partner's basket webhook again (basket.changed)",
        description:
          'Name the baskets by user id, or by the `X-Basket-Delivery-Id` of deliveries the receiver lost (at most 100 in all). ' +
          'Each basket is queued as a new `basket.changed` delivery of its current state, signed and retried as usual.',
        querystring: Type.Object({ partner: Type.String({ minLength: 1, description: 'Partner id' }) }),
        body: Type.Object(
          {
            userIds: Type.Optional(Type.Array(UserIdSchema, { maxItems: MAX_REPLAY })),
            deliveryIds: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 512 }), { maxItems: MAX_REPLAY })),
          },
          { additionalProperties: false },
        ),
        response: {
          200: envelope(Type.Object({ queued: Type.Integer(), deliveryIds: Type.Array(Type.String()) }), 'The new deliveries'),
          ...errorResponses,
        },
        'x-errors': [],
      },
    },
    async (req) => {
      const partnerId = adminPartner(partners, req.query.partner);
      const users = [...(req.body.userIds ?? [])];
      for (const [i, id] of (req.body.deliveryIds ?? []).entries()) {
        const user = deliveryBasket(id, partnerId);
        if (user === null) {
          throw new BasketError('REQUEST_VALIDATION_ERROR', `body.deliveryIds/${i} is not a basket delivery of partner ${partnerId}`, [
            { field: `body.deliveryIds.${i}`, message: 'not a basket delivery id of this partner' },
          ]);
        }
        users.push(user);
      }
      if (users.length === 0 || users.length > MAX_REPLAY) {
        throw new BasketError('REQUEST_VALIDATION_ERROR', `name 1 to ${MAX_REPLAY} baskets (userIds and deliveryIds together)`, [
          { field: 'body', message: `1 to ${MAX_REPLAY} baskets` },
        ]);
      }
      const deliveryIds = await webhooks.replay(partnerId, users);
      return ok({ queued: deliveryIds.length, deliveryIds });
    },
  );
};
