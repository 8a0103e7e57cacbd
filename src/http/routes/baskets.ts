/**
 * Basket and product operations of the device surface (spec §3.1–3.6), schemas next to the routes.
 */
import { Type } from 'typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import type { BasketState } from '../../domain/basket.js';
import type { BasketService } from '../../service/baskets.js';
import type { EventRecorder } from '../../service/events.js';
import { ProductIdSchema } from '../../service/catalogue.js';
import { ownerOf, type Authenticator } from '../auth.js';
import { attributionOf } from '../tracking.js';
import { BasketSchema, CommonQuery, envelope, errorResponses, isoSeconds, ProductInfoSchema, ref, UserIdSchema } from '../schemas.js';
import { ASSIGN_REQUEST, BASKET_IN_CHECKOUT_RESPONSE, BASKET_RESPONSE, PRODUCT_DETAILS_REQUEST, UPDATE_REQUEST } from '../examples.js';

export interface BasketRoutesOptions {
  baskets: BasketService;
  /** Every basket change records a tracking event (issue 23). */
  events: EventRecorder;
  auth: Authenticator;
  /** Hide from the OpenAPI document (the un-prefixed twin of the /v2 routes). */
  hide: boolean;
}

export interface BasketView {
  expires: string;
  lastChanged: string;
  cart: BasketState['cart'];
  saved: BasketState['saved'];
  checkout: BasketState['checkout'];
}

export function basketView(s: BasketState): BasketView {
  return { expires: isoSeconds(s.expires), lastChanged: isoSeconds(s.lastChanged), cart: s.cart, saved: s.saved, checkout: s.checkout };
}

/** Sends JSON this route's own serializer produced (the type provider types `send` with the object form only). */
function sendJson(reply: FastifyReply, body: string): FastifyReply {
  return reply.type(JSON_TYPE).send(body);
}

export function ok<T>(data: T): { data: T; nextToken: null; error: null } {
  return { data, nextToken: null, error: null };
}

const security = [{ ApiKey: [], Bearer: [] }];
const JSON_TYPE = 'application/json; charset=utf-8';
const tags = ['Device: Basket'];

export const basketRoutes: FastifyPluginAsyncTypebox<BasketRoutesOptions> = async (app, { baskets, events, auth, hide }) => {
  const { maxLineCount } = baskets.limits;
  const UserParams = Type.Object({ userId: UserIdSchema });
  const ProductParams = Type.Object({ userId: UserIdSchema, productId: ProductIdSchema });
  const Query = Type.Object(CommonQuery);
  const BasketResponse = { 200: envelope(ref(BasketSchema), 'The basket'), ...errorResponses };
  const Count = Type.Integer({
    minimum: -1,
    maximum: maxLineCount,
    description: '> 0: into the cart; 0: into the saved list; -1: removed from both',
  });
  const base = { hide, security, tags };
  // A frozen state is one the store shares between readers (SQLite's basket cache): its GET answer is the same
  // bytes every time, so it is serialized once and kept for as long as the store keeps the state.
  const serializedBaskets = new WeakMap<BasketState, string>();
  const sendBasket = (reply: FastifyReply, state: BasketState): void => {
    if (!Object.isFrozen(state)) {
      reply.send(ok(basketView(state)));
      return;
    }
    let body = serializedBaskets.get(state);
    if (body === undefined) {
      body = String(reply.serialize(ok(basketView(state))));
      serializedBaskets.set(state, body);
    }
    sendJson(reply, body);
  };
  // the body of assign/update is optional: absent counts as `{}` (Fastify would validate `undefined` as an object)
  // callback style: an async hook costs a promise on every assign
  const emptyBodyAsObject = (req: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction) => {
    if (req.body === undefined || req.body === null) req.body = {};
    done();
  };

  app.get(
    '/baskets/users/:userId',
    {
      schema: {
        ...base,
        operationId: 'getBasket',
        summary: 'Gets the shopping basket of the specified user (an empty one when there is none yet)',
        params: UserParams,
        querystring: Query,
        response: BasketResponse,
        'x-errors': [],
        'x-examples': { response: { ...BASKET_RESPONSE, ...BASKET_IN_CHECKOUT_RESPONSE } },
      },
      onRequest: auth.user,
    },
    // not async: a store that reads synchronously (SQLite) is answered in this call, without a promise
    (req, reply) => {
      const owner = ownerOf(req);
      const state = baskets.getSync(owner);
      if (state === undefined) return baskets.get(owner).then((s) => sendBasket(reply, s));
      sendBasket(reply, state);
      return undefined;
    },
  );

  app.delete(
    '/baskets/users/:userId',
    {
      schema: {
        ...base,
        operationId: 'deleteBasket',
        summary: 'Empties cart and saved list (423 while a checkout is active)',
        params: UserParams,
        querystring: Query,
        response: BasketResponse,
        'x-errors': ['BASKET_LOCKED'],
      },
      onRequest: auth.user,
    },
    async (req) => {
      const owner = ownerOf(req);
      const state = await baskets.clear(owner);
      void events.record(owner.partnerId, owner.userId, 'clear', attributionOf(req));
      return ok(basketView(state));
    },
  );

  app.post(
    '/baskets/users/:userId/products/:productId',
    {
      schema: {
        ...base,
        operationId: 'assignProductToBasket',
        summary: 'Assigns a product to the shopping basket, overwriting its line',
        params: ProductParams,
        querystring: Query,
        body: Type.Object({ count: Type.Optional(Count) }),
        response: BasketResponse,
        'x-body-optional': true,
        'x-errors': ['PRODUCT_NOT_FOUND', 'CART_LIMIT_REACHED'],
        'x-examples': { request: ASSIGN_REQUEST, response: BASKET_RESPONSE },
      },
      preValidation: emptyBodyAsObject,
      onRequest: auth.user,
    },
    async (req) => {
      const owner = ownerOf(req);
      const { productId } = req.params;
      const count = req.body.count ?? 1;
      const state = await baskets.assign(owner, productId, count);
      // recorded with the turn's other events, after the answer (src/service/events.ts)
      void events.record(owner.partnerId, owner.userId, 'assign', attributionOf(req), { productId, count });
      return ok(basketView(state));
    },
  );

  app.patch(
    '/baskets/users/:userId/products/:productId',
    {
      schema: {
        ...base,
        operationId: 'updateProductInBasket',
        summary: 'Updates a product already in the basket; a null count leaves it unchanged',
        params: ProductParams,
        querystring: Query,
        body: Type.Object({ count: Type.Optional(Type.Union([Count, Type.Null()])) }),
        response: BasketResponse,
        'x-body-optional': true,
        'x-errors': ['PRODUCT_NOT_IN_BASKET', 'PRODUCT_NOT_FOUND', 'CART_LIMIT_REACHED'],
        'x-examples': { request: UPDATE_REQUEST, response: BASKET_RESPONSE },
      },
      preValidation: emptyBodyAsObject,
      onRequest: auth.user,
    },
    async (req) => {
      const owner = ownerOf(req);
      const { productId } = req.params;
      const count = req.body.count ?? null;
      const state = await baskets.update(owner, productId, count);
      void events.record(owner.partnerId, owner.userId, 'update', attributionOf(req), { productId, count });
      return ok(basketView(state));
    },
  );

  app.delete(
    '/baskets/users/:userId/products/:productId',
    {
      schema: {
        ...base,
        operationId: 'deleteProductFromBasket',
        summary: 'Removes a product from cart and saved list',
        params: ProductParams,
        querystring: Query,
        response: BasketResponse,
        'x-errors': ['PRODUCT_NOT_IN_BASKET'],
      },
      onRequest: auth.user,
    },
    async (req) => {
      const owner = ownerOf(req);
      const { productId } = req.params;
      const state = await baskets.removeProduct(owner, productId);
      void events.record(owner.partnerId, owner.userId, 'remove', attributionOf(req), { productId });
      return ok(basketView(state));
    },
  );

  app.post(
    '/baskets/products/details',
    {
      schema: {
        ...base,
        security: [{ ApiKey: [] }],
        tags: ['Device: Products'],
        operationId: 'getProductInformation',
        summary: 'Product information for up to 50 product ids; unknown ids are left out',
        querystring: Query,
        body: Type.Array(ProductIdSchema, { minItems: 1, maxItems: 50 }),
        response: { 200: envelope(Type.Object({ products: Type.Array(ref(ProductInfoSchema)) }), 'The products found'), ...errorResponses },
        'x-errors': [],
        'x-examples': { request: PRODUCT_DETAILS_REQUEST },
      },
      onRequest: auth.partner,
    },
    async (req) => {
      const partner = req.partner!;
      return ok({ products: await baskets.productDetails(partner.id, req.body) });
    },
  );
};
