/**
 * Checkout operations (spec §3.9–3.11) and the user's orders (our addition), schemas next to the routes.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { Type } from 'typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { BasketError, ERRORS, isBasketError } from '../../domain/errors.js';
import { toMajor } from '../../domain/money.js';
import { requestFingerprint, type CheckoutService, type StartResult } from '../../service/checkout.js';
import { orderView } from '../../service/orders.js';
import { CursorError, type ComfortSettings } from '../../store/store.js';
import { ownerOf, type Authenticator } from '../auth.js';
import { errorBody } from '../errors.js';
import { attributionOf } from '../tracking.js';
import { BasketSchema, CheckoutLineSchema, CommonQuery, envelope, errorResponses, isoSeconds, ref, UserIdSchema } from '../schemas.js';
import { BASKET_RESPONSE, FINISH_REQUEST } from '../examples.js';
import { ok, sendVersioned } from './baskets.js';
import { ifMatchOf, setEtag } from '../etag.js';

export interface CheckoutRoutesOptions {
  checkout: CheckoutService;
  auth: Authenticator;
  hide: boolean;
  /** How long a stored Idempotency-Key result is kept (24 h). */
  idempotencyMs: number;
  now: () => number;
  /** How long a retry waits for the first request with the same key before answering 409 (default 2 s). */
  idempotencyWaitMs?: number;
}

const security = [{ ApiKey: [], Bearer: [] }];
/** How long a keyed request holds its Idempotency-Key before a repeat may take it over. */
const IDEMPOTENCY_LEASE_MS = 30_000;
const OpenObject = Type.Object({}, { additionalProperties: true, description: 'Provider-specific fields' });

export const CheckoutResultSchema = Type.Object(
  {
    orderNo: Type.String(),
    status: Type.String({ description: 'pending_payment | paid | ordered | cancelled' }),
    currency: Type.String(),
    fullPrice: Type.Number({ description: 'Goods plus shipping, major units' }),
    fullTax: Type.Number({ description: 'Tax contained in the goods, major units' }),
    shippingCost: Type.Number(),
    testMode: Type.Boolean(),
    expires: Type.String({ format: 'date-time' }),
    paymentProvider: Type.String(),
    payment: OpenObject,
    checkout: Type.Array(ref(CheckoutLineSchema)),
  },
  { $id: 'CheckoutSession', description: 'A started checkout: the order, its payment and the products in checkout' },
);

export const OrderLineSchema = Type.Object(
  {
    productId: Type.String(),
    count: Type.Integer(),
    stocked: Type.Union([Type.Integer(), Type.Null()]),
    name: Type.String(),
    unitPrice: Type.Number(),
    taxRate: Type.Number({ description: 'Percent' }),
    lineTotal: Type.Number(),
    lineTax: Type.Number(),
  },
  { $id: 'OrderLine', description: 'A product of an order, priced when the checkout started' },
);

export const OrderSchema = Type.Object(
  {
    orderNo: Type.String(),
    status: Type.String(),
    currency: Type.String(),
    fullPrice: Type.Number(),
    fullTax: Type.Number(),
    shippingCost: Type.Number(),
    testMode: Type.Boolean(),
    paymentProvider: Type.String(),
    payment: OpenObject,
    lines: Type.Array(ref(OrderLineSchema)),
    created: Type.String({ format: 'date-time' }),
    updated: Type.String({ format: 'date-time' }),
  },
  { $id: 'Order', description: 'An order of the user' },
);

export const ComfortSchema = Type.Object(
  {
    customerId: Type.Union([Type.String(), Type.Null()]),
    paymentMethodId: Type.Union([Type.String(), Type.Null()]),
    oneClick: Type.Boolean(),
  },
  { $id: 'ComfortSettings', description: 'Saved customer, payment method and one-click checkout (partner users)' },
);

/** The named schemas of these routes (registered once by the app). */
export const checkoutComponents = [CheckoutResultSchema, OrderLineSchema, OrderSchema, ComfortSchema];

export function checkoutResult(r: StartResult) {
  const { order } = r;
  return {
    orderNo: order.orderNo,
    status: order.status,
    currency: order.currency,
    fullPrice: toMajor(order.fullPrice, order.currency),
    fullTax: toMajor(order.fullTax, order.currency),
    shippingCost: toMajor(order.shippingCost, order.currency),
    testMode: order.testMode,
    expires: isoSeconds(r.expires),
    paymentProvider: order.paymentProvider,
    payment: order.payment,
    checkout: r.checkout,
  };
}

export const checkoutRoutes: FastifyPluginAsyncTypebox<CheckoutRoutesOptions> = async (app, opts) => {
  const { checkout, auth, hide } = opts;
  const waitMs = opts.idempotencyWaitMs ?? 2_000;
  const UserParams = Type.Object({ userId: UserIdSchema });
  const base = { hide, security, tags: ['Device: Checkout'] };
  const emptyBodyAsObject = async (req: FastifyRequest) => {
    if (req.body === undefined || req.body === null) req.body = {};
  };

  /** Runs `fn` under the request's Idempotency-Key (Stripe's rules), or directly when there is none. */
  async function idempotent<T>(req: FastifyRequest, reply: FastifyReply, fn: () => Promise<T>): Promise<T | FastifyReply> {
    const raw = req.headers['idempotency-key'];
    if (raw === undefined) return fn();
    if (typeof raw !== 'string' || raw.length === 0 || raw.length > 255) {
      throw new BasketError('REQUEST_VALIDATION_ERROR', 'Idempotency-Key must be 1 to 255 characters', [
        { field: 'headers.idempotency-key', message: 'must be 1 to 255 characters' },
      ]);
    }
    const owner = ownerOf(req);
    const scope = `checkout:${owner.partnerId}:${owner.userId}`;
    const fingerprint = requestFingerprint(req.method, req.url.split('?')[0] ?? '', req.query as Record<string, unknown>, req.body);
    const deadline = Date.now() + waitMs;
    let holder: string;
    for (;;) {
      const begin = await checkout.store.beginIdempotent(scope, raw, fingerprint, opts.now(), opts.idempotencyMs, IDEMPOTENCY_LEASE_MS);
      if (begin.state === 'mismatch') throw new BasketError('IDEMPOTENCY_KEY_REUSED');
      if (begin.state === 'done') {
        reply.header('Idempotent-Replayed', 'true');
        return reply.code(begin.response.status).send(begin.response.body);
      }
      if (begin.state === 'new') {
        holder = begin.holder;
        break;
      }
      if (Date.now() >= deadline) throw new BasketError('IDEMPOTENCY_IN_PROGRESS');
      await delay(50);
    }
    // false: this request outlived its lease and a repeat took the key over; that repeat's answer is the one kept
    const lost = (action: string) => req.log.warn({ userId: owner.userId }, `idempotency hold lapsed before its ${action}: nothing stored`);
    try {
      const body = await fn();
      if (!(await checkout.store.finishIdempotent(scope, raw, holder, { status: 200, body }))) lost('finish');
      return body;
    } catch (err) {
      // a refusal is the answer and is kept; a failure on our or the provider's side may be retried
      if (isBasketError(err) && ERRORS[err.kind].status < 500 && err.kind !== 'IDEMPOTENCY_IN_PROGRESS') {
        const response = { status: ERRORS[err.kind].status, body: errorBody(err.kind, err.message, err.details) };
        if (!(await checkout.store.finishIdempotent(scope, raw, holder, response))) lost('finish');
      } else {
        // a store that fails here leaves the hold to lapse after its lease
        const abandoned = await checkout.store.abandonIdempotent(scope, raw, holder).catch(() => null);
        if (abandoned === false) lost('abandon');
      }
      throw err;
    }
  }

  app.post(
    '/baskets/users/:userId/checkout/sessions',
    {
      schema: {
        ...base,
        operationId: 'checkoutBasket',
        summary: 'Starts a checkout: cart → checkout, stock reserved, order and payment created',
        description: 'Optional header `Idempotency-Key` (1–255 characters): a retry with the same key returns the first result for 24 h.',
        params: UserParams,
        querystring: Type.Object({ ...CommonQuery, testMode: Type.Optional(Type.Union([Type.Literal('true'), Type.Literal('false')])) }),
        body: Type.Object({
          language: Type.Optional(Type.String({ pattern: '^[a-z]{2}$', description: 'ISO 639-1' })),
          country: Type.Optional(Type.String({ pattern: '^[A-Z]{2}$', description: 'ISO 3166-1 alpha-2' })),
          stripeUsingSdk: Type.Optional(Type.Boolean()),
          mode: Type.Optional(
            Type.Union([Type.Literal('test'), Type.Literal('live')], {
              description: 'The public how-to\'s spelling of testMode: "test" is ?testMode=true, "live" ?testMode=false',
            }),
          ),
        }),
        response: { 200: envelope(ref(CheckoutResultSchema), 'The checkout session'), ...errorResponses },
        'x-body-optional': true,
        'x-idempotent': true,
        'x-errors': [
          'CHECKOUT_ALREADY_ACTIVE',
          'CART_EMPTY',
          'PRODUCT_NOT_FOUND',
          'OUT_OF_STOCK',
          'PAYMENT_PROVIDER_NOT_SUPPORTED',
          'PAYMENT_PROVIDER_ERROR',
          'IDEMPOTENCY_KEY_REUSED',
          'IDEMPOTENCY_IN_PROGRESS',
          'VERSION_MISMATCH',
          'GUEST_BASKET_MERGED',
        ],
        'x-conditional': 'write',
      },
      preValidation: emptyBodyAsObject,
      onRequest: auth.user,
    },
    async (req, reply) =>
      idempotent(req, reply, async () => {
        const owner = ownerOf(req);
        const q = req.query.testMode;
        const fromQuery = q === undefined ? null : q === 'true';
        const fromBody = req.body.mode === undefined ? null : req.body.mode === 'test';
        if (fromQuery !== null && fromBody !== null && fromQuery !== fromBody) {
          throw new BasketError('REQUEST_VALIDATION_ERROR', 'body.mode contradicts querystring.testMode', [
            { field: 'body.mode', message: 'contradicts querystring.testMode' },
          ]);
        }
        const result = await checkout.start(
          owner,
          req.partner!,
          {
            testMode: fromQuery ?? fromBody,
            language: req.body.language ?? null,
            country: req.body.country ?? null,
            usingSdk: req.body.stripeUsingSdk ?? false,
          },
          attributionOf(req),
          ifMatchOf(req),
        );
        setEtag(reply, result.basketVersion);
        return ok(checkoutResult(result));
      }),
  );

  app.post(
    '/baskets/users/:userId/checkout/sessions/finish-active',
    {
      schema: {
        ...base,
        operationId: 'finishActiveCheckout',
        summary: 'Finishes the active checkout: ordered, or aborted (lines back to the cart)',
        params: UserParams,
        querystring: Type.Object(CommonQuery),
        body: Type.Object({ ordered: Type.Boolean() }),
        response: { 200: envelope(ref(BasketSchema), 'The basket'), ...errorResponses },
        'x-errors': ['NO_ACTIVE_CHECKOUT', 'VERSION_MISMATCH'],
        'x-conditional': 'write',
        'x-examples': { request: FINISH_REQUEST, response: BASKET_RESPONSE },
      },
      onRequest: auth.user,
    },
    async (req, reply) => sendVersioned(reply, await checkout.finish(ownerOf(req), req.body.ordered, attributionOf(req), ifMatchOf(req))),
  );

  app.patch(
    '/baskets/users/:userId/comfort',
    {
      schema: {
        ...base,
        operationId: 'updateComfortBasketSettings',
        summary: 'Stores the comfort settings (saved customer, payment method, one-click); partner users only',
        params: UserParams,
        querystring: Type.Object(CommonQuery),
        body: Type.Object({
          customerId: Type.Optional(Type.Union([Type.String({ minLength: 1, maxLength: 255 }), Type.Null()])),
          paymentMethodId: Type.Optional(Type.Union([Type.String({ minLength: 1, maxLength: 255 }), Type.Null()])),
          oneClick: Type.Optional(Type.Boolean()),
        }),
        response: { 200: envelope(ref(ComfortSchema), 'The comfort settings'), ...errorResponses },
        'x-body-optional': true,
        'x-errors': ['GUEST_NOT_ALLOWED'],
      },
      preValidation: emptyBodyAsObject,
      onRequest: auth.user,
    },
    async (req) => {
      const owner = ownerOf(req);
      if (owner.guest) throw new BasketError('GUEST_NOT_ALLOWED');
      const current: ComfortSettings = (await checkout.store.getComfort(owner)) ?? { customerId: null, paymentMethodId: null, oneClick: false };
      const next: ComfortSettings = {
        customerId: req.body.customerId !== undefined ? req.body.customerId : current.customerId,
        paymentMethodId: req.body.paymentMethodId !== undefined ? req.body.paymentMethodId : current.paymentMethodId,
        oneClick: req.body.oneClick ?? current.oneClick,
      };
      await checkout.store.putComfort(owner, next);
      return ok(next);
    },
  );

  app.get(
    '/baskets/users/:userId/orders',
    {
      schema: {
        ...base,
        tags: ['Device: Orders'],
        operationId: 'listOrders',
        summary: "The user's orders, newest first; `nextToken` of the envelope fetches the next page",
        params: UserParams,
        querystring: Type.Object({
          ...CommonQuery,
          limit: Type.Optional(Type.String({ pattern: '^(100|[1-9][0-9]?)$', description: '1 to 100, default 20' })),
          nextToken: Type.Optional(Type.String({ minLength: 1, maxLength: 1000 })),
        }),
        response: { 200: envelope(Type.Object({ orders: Type.Array(ref(OrderSchema)) }), 'A page of orders'), ...errorResponses },
        'x-errors': [],
      },
      onRequest: auth.user,
    },
    async (req) => {
      const owner = ownerOf(req);
      let page;
      try {
        page = await checkout.store.listOrders(owner.partnerId, owner.userId, Number(req.query.limit ?? 20), req.query.nextToken ?? null);
      } catch (err) {
        if (err instanceof CursorError) {
          throw new BasketError('REQUEST_VALIDATION_ERROR', 'nextToken is not a token this service issued', [
            { field: 'querystring.nextToken', message: 'is invalid' },
          ]);
        }
        throw err;
      }
      return { data: { orders: page.orders.map(orderView) }, nextToken: page.next, error: null };
    },
  );

  app.get(
    '/baskets/users/:userId/orders/:orderNo',
    {
      schema: {
        ...base,
        tags: ['Device: Orders'],
        operationId: 'getOrder',
        summary: 'One order of the user (404, code 404 ORDER_NOT_FOUND, when it is not theirs)',
        params: Type.Object({ userId: UserIdSchema, orderNo: Type.String({ minLength: 1, maxLength: 64 }) }),
        querystring: Type.Object(CommonQuery),
        response: { 200: envelope(ref(OrderSchema), 'The order'), ...errorResponses },
        'x-errors': ['ORDER_NOT_FOUND'],
      },
      onRequest: auth.user,
    },
    async (req) => {
      const owner = ownerOf(req);
      const order = await checkout.store.getOrder(owner.partnerId, req.params.orderNo);
      if (!order || order.userId !== owner.userId) throw new BasketError('ORDER_NOT_FOUND', `Order ${req.params.orderNo} not found for this user`);
      return ok(orderView(order));
    },
  );
};
