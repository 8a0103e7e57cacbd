/**
 * Basket and product operations of the device surface (spec §3.1–3.6), schemas next to the routes.
 */
import { Type } from 'typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import type { BasketState } from '../../domain/basket.js';
import { toMajor } from '../../domain/money.js';
import type { BasketProblem } from '../../domain/problems.js';
import type { BasketOwner, BasketService, VersionedBasket } from '../../service/baskets.js';
import type { EventRecorder } from '../../service/events.js';
import { DEFAULT_MERGE_STRATEGY, type MergeService } from '../../service/merge.js';
import { ProductIdSchema } from '../../service/catalogue.js';
import { ownerOf, type Authenticator } from '../auth.js';
import { ifMatchOf, ifNoneMatchHits, setEtag } from '../etag.js';
import { attributionOf } from '../tracking.js';
import {
  BasketSchema,
  CommonQuery,
  envelope,
  errorResponses,
  isoSeconds,
  MergedBasketSchema,
  ProductInfoSchema,
  ref,
  UserIdSchema,
} from '../schemas.js';
import { ASSIGN_REQUEST, BASKET_IN_CHECKOUT_RESPONSE, BASKET_RESPONSE, MERGE_REQUEST, PRODUCT_DETAILS_REQUEST, UPDATE_REQUEST } from '../examples.js';

export interface BasketRoutesOptions {
  baskets: BasketService;
  /** Guest → account merge (issue 22). */
  merge: MergeService;
  /** Every basket change records a tracking event (issue 23). */
  events: EventRecorder;
  auth: Authenticator;
  /** Hide from the OpenAPI document (the un-prefixed twin of the /v2 routes). */
  hide: boolean;
}

export interface ProblemView {
  productId: string;
  code: BasketProblem['code'];
  list: BasketProblem['list'];
  available?: number;
  addedPrice?: number;
  addedCurrency?: string;
  price?: number;
  currency?: string;
}

export interface BasketView {
  expires: string;
  lastChanged: string;
  cart: BasketState['cart'];
  saved: BasketState['saved'];
  checkout: BasketState['checkout'];
  problems?: ProblemView[];
}

/** Prices on the wire are decimals in major units (spec §3.9). */
function problemView(p: BasketProblem): ProblemView {
  const { addedPrice, addedCurrency, price, currency, ...rest } = p;
  const view: ProblemView = rest;
  if (addedPrice !== undefined && addedCurrency !== undefined) {
    view.addedPrice = toMajor(addedPrice, addedCurrency);
    view.addedCurrency = addedCurrency;
  }
  if (price !== undefined && currency !== undefined) {
    view.price = toMajor(price, currency);
    view.currency = currency;
  }
  return view;
}

/** The basket on the wire; `problems` only when there are any (an addition to the documented fields). */
export function basketView(s: BasketState, problems?: readonly BasketProblem[]): BasketView {
  const view: BasketView = { expires: isoSeconds(s.expires), lastChanged: isoSeconds(s.lastChanged), cart: s.cart, saved: s.saved, checkout: s.checkout };
  if (problems !== undefined && problems.length > 0) view.problems = problems.map(problemView);
  return view;
}

/** A write's answer: the basket, and its version as the ETag. */
export function sendVersioned(reply: FastifyReply, b: VersionedBasket) {
  setEtag(reply, b.version);
  return ok(basketView(b.state));
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

export const basketRoutes: FastifyPluginAsyncTypebox<BasketRoutesOptions> = async (app, { baskets, merge, events, auth, hide }) => {
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
  // Problems depend on the catalogue, not the state: a basket with problems is serialized afresh.
  const serializedBaskets = new WeakMap<BasketState, string>();
  const sendBasket = (reply: FastifyReply, state: BasketState, problems: readonly BasketProblem[]): void => {
    if (problems.length > 0 || !Object.isFrozen(state)) {
      reply.send(ok(basketView(state, problems)));
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
        'x-conditional': 'read',
        'x-examples': { response: { ...BASKET_RESPONSE, ...BASKET_IN_CHECKOUT_RESPONSE } },
      },
      onRequest: auth.user,
    },
    // not async: a store that reads synchronously (SQLite) with the catalogue remembered is answered in this call,
    // without a promise
    (req, reply) => {
      const owner = ownerOf(req);
      const read = baskets.readSync(owner);
      if (read === undefined) return baskets.read(owner).then((b) => answerGet(req, reply, owner, b));
      return answerGet(req, reply, owner, read);
    },
  );

  /** GET's answer: 304 when If-None-Match names the version; else the basket with its problems. */
  function answerGet(req: FastifyRequest, reply: FastifyReply, owner: BasketOwner, b: VersionedBasket): Promise<void> | undefined {
    if (ifNoneMatchHits(req, b.version)) {
      setEtag(reply, b.version).code(304).send();
      return undefined;
    }
    const problems = baskets.problemsSync(owner.partnerId, b.state);
    // the ETag is set with the basket, so that a failed catalogue read answers an error without one
    if (problems === undefined) return baskets.problems(owner.partnerId, b.state).then((p) => sendBasket(setEtag(reply, b.version), b.state, p));
    sendBasket(setEtag(reply, b.version), b.state, problems);
    return undefined;
  }

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
        'x-errors': ['BASKET_LOCKED', 'VERSION_MISMATCH', 'GUEST_BASKET_MERGED'],
        'x-conditional': 'write',
      },
      onRequest: auth.user,
    },
    async (req, reply) => {
      const owner = ownerOf(req);
      const basket = await baskets.clear(owner, { expect: ifMatchOf(req) });
      void events.record(owner.partnerId, owner.userId, 'clear', attributionOf(req));
      return sendVersioned(reply, basket);
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
        'x-errors': ['PRODUCT_NOT_FOUND', 'CART_LIMIT_REACHED', 'VERSION_MISMATCH', 'GUEST_BASKET_MERGED'],
        'x-conditional': 'write',
        'x-examples': { request: ASSIGN_REQUEST, response: BASKET_RESPONSE },
      },
      preValidation: emptyBodyAsObject,
      onRequest: auth.user,
    },
    async (req, reply) => {
      const owner = ownerOf(req);
      const { productId } = req.params;
      const count = req.body.count ?? 1;
      const basket = await baskets.assign(owner, productId, count, { expect: ifMatchOf(req) });
      // recorded with the turn's other events, after the answer (src/service/events.ts)
      void events.record(owner.partnerId, owner.userId, 'assign', attributionOf(req), { productId, count });
      return sendVersioned(reply, basket);
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
        'x-errors': ['PRODUCT_NOT_IN_BASKET', 'PRODUCT_NOT_FOUND', 'CART_LIMIT_REACHED', 'VERSION_MISMATCH', 'GUEST_BASKET_MERGED'],
        'x-conditional': 'write',
        'x-examples': { request: UPDATE_REQUEST, response: BASKET_RESPONSE },
      },
      preValidation: emptyBodyAsObject,
      onRequest: auth.user,
    },
    async (req, reply) => {
      const owner = ownerOf(req);
      const { productId } = req.params;
      const count = req.body.count ?? null;
      const basket = await baskets.update(owner, productId, count, { expect: ifMatchOf(req) });
      void events.record(owner.partnerId, owner.userId, 'update', attributionOf(req), { productId, count });
      return sendVersioned(reply, basket);
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
        'x-errors': ['PRODUCT_NOT_IN_BASKET', 'VERSION_MISMATCH', 'GUEST_BASKET_MERGED'],
        'x-conditional': 'write',
      },
      onRequest: auth.user,
    },
    async (req, reply) => {
      const owner = ownerOf(req);
      const { productId } = req.params;
      const basket = await baskets.removeProduct(owner, productId, { expect: ifMatchOf(req) });
      void events.record(owner.partnerId, owner.userId, 'remove', attributionOf(req), { productId });
      return sendVersioned(reply, basket);
    },
  );

  app.post(
    '/baskets/users/:userId/merge',
    {
      schema: {
        ...base,
        operationId: 'mergeGuestBasket',
        summary: "Moves a guest's basket into this account's (at login); repeating it changes nothing",
        description:
          'Body: the guest token (a guest JWT of this partner) and how counts of a product in both baskets combine: `sum` ' +
          '(capped at the line maximum), `max` (default) or `replace` (the guest\'s count). Guest cart lines go to the cart while ' +
          'it has room (20 products), then to the saved list (`merge.toSaved`). The guest basket is left empty and its token can ' +
          'no longer change it (410). Partner users only. `If-Match` applies to this account\'s basket.',
        params: UserParams,
        querystring: Query,
        body: Type.Object({
          guestToken: Type.String({ minLength: 1, maxLength: 4096, description: 'The guest JWT (createGuestBasket)' }),
          strategy: Type.Optional(Type.Union([Type.Literal('sum'), Type.Literal('max'), Type.Literal('replace')], { description: 'Default max' })),
        }),
        response: { 200: envelope(ref(MergedBasketSchema), "The account's basket and what the merge did"), ...errorResponses },
        'x-errors': ['GUEST_NOT_ALLOWED', 'CHECKOUT_ALREADY_ACTIVE', 'GUEST_BASKET_MERGED', 'VERSION_MISMATCH'],
        'x-conditional': 'write',
        'x-examples': { request: MERGE_REQUEST },
      },
      onRequest: auth.user,
    },
    async (req, reply) => {
      const owner = ownerOf(req);
      const expect = ifMatchOf(req);
      const guest = await merge.guestOf(req.partner!, req.body.guestToken);
      const { basket, report } = await merge.merge(owner, guest, req.body.strategy ?? DEFAULT_MERGE_STRATEGY, expect);
      setEtag(reply, basket.version);
      return ok({ ...basketView(basket.state), merge: report });
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
