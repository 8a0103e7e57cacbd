/**
 * Subscription changes (shop-api.md §3.4–§3.6): `POST /api/checkout/subscription` starts one (reCAPTCHA), `GET` reads
 * the one of the landing state, `PUT` chooses the change (reCAPTCHA). Submission is POST /api/order (shop-api's route;
 * the `update_subscription` branch is SubscriptionChangeService.submit). Rules: src/domain/shop/subscription-*.ts.
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyReply } from 'fastify';
import { CHANGE_MESSAGES } from '../../domain/shop/change-error.js';
import { MSG_NO_BASKET_IN_LANDING_STATE } from '../../domain/shop/errors.js';
import { landingStateCookie, landingStateOf } from '../../domain/shop/landing-state.js';
import type { SubscriptionCheckout } from '../../service/shop/subscription-changes.js';
import { shopClientOf } from './auth.js';
import type { ShopRoutePlugin } from './index.js';
import { RECAPTCHA_HEADER } from './recaptcha.js';
import { choiceActions, ChooseChangeBody, StartChangeBody, SubscriptionCheckoutSchema, subscriptionCheckoutView } from './subscription-schemas.js';

/** §3.5's 404 (GET); PUT answers MSG_NO_BASKET_IN_LANDING_STATE (§3.6). */
export const MSG_NO_CHANGE_IN_LANDING_STATE = 'No basket found in landing state';

const tags = ['Shop: Checkout'];
const security = [{ ShopOAuth: ['checkout'] }];
const recaptchaHeader = {
  type: 'object',
  properties: { [RECAPTCHA_HEADER]: { type: 'string', description: 'reCAPTCHA token of the shopper (required; checked after the body)' } },
} as const;
const RECAPTCHA_400 = [`The ${RECAPTCHA_HEADER} header is required`, 'reCAPTCHA verification failed'];
const RECAPTCHA_502 = ['The reCAPTCHA verifier cannot be reached'];

function withCookie(reply: FastifyReply, c: SubscriptionCheckout, now: number): FastifyReply {
  return reply.header('Set-Cookie', landingStateCookie(c.basket.id, c.basket.expires - now));
}

/** 423 answers carry `Retry-After` and `effectiveDate` (the shop error mapper, errors.ts). */
export const subscriptionRoutes: ShopRoutePlugin = async (plain, { checkout, recaptcha, now }) => {
  const app = plain.withTypeProvider<TypeBoxTypeProvider>();
  const service = checkout.subscriptions;

  app.post(
    '/checkout/subscription',
    {
      schema: {
        tags,
        security,
        operationId: 'shopStartSubscriptionChange',
        summary: 'Start a subscription change',
        description:
          'Creates a basket of type `update_subscription` for the subscription (by id or name), sets the landing-state cookie ' +
          '`limio_state` and answers the current offer and what it can change to (`nextActions`, newest offer versions). ' +
          'While a change is pending (a downgrade not yet effective): 423 with `Retry-After` (seconds) and `effectiveDate`.',
        headers: recaptchaHeader,
        body: StartChangeBody,
        response: { 200: SubscriptionCheckoutSchema },
        'x-shop-errors': {
          400: ['body/order/forSubscription must match a schema in anyOf', ...RECAPTCHA_400],
          404: [CHANGE_MESSAGES.subscriptionNotFound],
          423: [CHANGE_MESSAGES.locked],
          502: RECAPTCHA_502,
        },
      },
      preHandler: recaptcha,
    },
    async (request, reply) => {
      const partnerId = shopClientOf(request).partnerId;
      const selector = 'id' in request.body.order.forSubscription ? { id: request.body.order.forSubscription.id } : { name: request.body.order.forSubscription.name };
      const details = request.body.tracking ? { tracking: request.body.tracking } : {};
      const c = await service.start(partnerId, selector, details);
      return withCookie(reply, c, now()).send(subscriptionCheckoutView(c));
    },
  );

  app.get(
    '/checkout/subscription',
    {
      schema: {
        tags,
        security,
        operationId: 'shopGetSubscriptionChange',
        summary: 'Read the subscription change of the landing state',
        description: 'The change of the basket named by the `limio_state` cookie, with `completed`.',
        response: { 200: SubscriptionCheckoutSchema },
        'x-shop-errors': { 404: [MSG_NO_CHANGE_IN_LANDING_STATE, CHANGE_MESSAGES.subscriptionNotFound] },
      },
    },
    async (request, reply) => {
      const partnerId = shopClientOf(request).partnerId;
      const c = await service.read(partnerId, landingStateOf(request.headers.cookie), MSG_NO_CHANGE_IN_LANDING_STATE);
      return reply.send(subscriptionCheckoutView(c));
    },
  );

  app.put(
    '/checkout/subscription',
    {
      schema: {
        tags,
        security,
        operationId: 'shopChooseSubscriptionChange',
        summary: 'Choose the change (add offers)',
        description:
          'One offer `add` per request: an upgrade or a downgrade of the current offer. The remove of the current offer, and ' +
          'of add-ons the new offer does not cross-sell, is generated. Add-ons the new offer cross-sells may be added or ' +
          'removed. The answer states `order.effectiveDate` and `order.proration` (an upgrade is charged pro rata for the ' +
          'rest of the term at submission; a downgrade takes effect at the end of the term, nothing charged).',
        headers: recaptchaHeader,
        body: ChooseChangeBody,
        response: { 200: SubscriptionCheckoutSchema },
        'x-shop-errors': {
          400: [
            CHANGE_MESSAGES.invalidChoice,
            'Offer "basic-monthly" is neither an upgrade nor a downgrade of offer "premium-monthly"',
            'The subscription change is completed and can no longer be changed',
            ...RECAPTCHA_400,
          ],
          404: [MSG_NO_BASKET_IN_LANDING_STATE, CHANGE_MESSAGES.subscriptionNotFound],
          502: RECAPTCHA_502,
        },
      },
      preHandler: recaptcha,
    },
    async (request, reply) => {
      const partnerId = shopClientOf(request).partnerId;
      const c = await service.choose(partnerId, landingStateOf(request.headers.cookie), choiceActions(request.body), MSG_NO_BASKET_IN_LANDING_STATE);
      return reply.send(subscriptionCheckoutView(c));
    },
  );
};
