/**
 * `GET /api/checkout/abandoned` (shop-api.md §3.1, authenticated) and `GET /api/checkout/recover` (§3.8, public:
 * the signed link is the credential). The recovery route answers its refusals as a small HTML page to browsers
 * (a shopper clicked a link in an e-mail) and as `{"message"}` to everyone else.
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { badRequest, isShopRuleError } from '../../domain/shop/errors.js';
import { isBasketId } from '../../domain/shop/ids.js';
import { escapeHtml, PAGE_SECURITY_HEADERS } from '../routes/landing.js';
import { shopClientOf } from './auth.js';
import { setLandingState } from './basket-routes.js';
import { AbandonedQuery, AbandonedResponse, abandonedView } from './checkout-schemas.js';
import { sendShopError } from './errors.js';
import type { ShopRoutePlugin } from './index.js';

/** An ISO 8601 date-time with a time zone (Z or ±hh:mm), seconds and fractions optional. */
const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/i;

/** Epoch ms of `createdAfter`; 400 when it is not an ISO date-time. */
export function parseCreatedAfter(text: string): number {
  const ms = ISO_DATE_TIME.test(text) ? Date.parse(text) : Number.NaN;
  if (!Number.isFinite(ms)) throw badRequest('createdAfter must be an ISO 8601 date-time, e.g. 2020-12-01T16:00:00Z');
  return ms;
}

export const abandonedRoute: ShopRoutePlugin = async (plain, opts) => {
  const app = plain.withTypeProvider<TypeBoxTypeProvider>();
  const { checkout } = opts;

  app.get(
    '/checkout/abandoned',
    {
      schema: {
        tags: ['Shop: Checkout'],
        operationId: 'shopListAbandoned',
        summary: 'List abandoned baskets (open, unexpired), oldest first',
        description:
          'Ordered by (created, id). `queryMore` is a signed keyset cursor: pages stay stable while baskets are created. ' +
          'Each item carries a signed `recoveryLink` that restores the landing state in the shopper\'s browser.',
        security: [{ ShopOAuth: ['checkout'] }],
        querystring: AbandonedQuery,
        response: { 200: AbandonedResponse },
        'x-shop-errors': {
          400: ['createdAfter must be an ISO 8601 date-time, e.g. 2020-12-01T16:00:00Z', 'queryMore is not a valid cursor of this listing'],
        },
      },
    },
    async (req) => {
      const { partnerId } = shopClientOf(req);
      const page = await checkout.abandoned.list(partnerId, {
        createdAfter: parseCreatedAfter(req.query.createdAfter),
        limit: req.query.limit === undefined ? 50 : Number(req.query.limit),
        queryMore: req.query.queryMore ?? null,
      });
      const items = page.baskets.map((b) => abandonedView(b, page.offers, checkout.abandoned.recoveryLink(b)));
      return page.queryMore === null ? { items } : { items, queryMore: page.queryMore };
    },
  );
};

function wantsHtml(req: FastifyRequest): boolean {
  const accept = req.headers.accept;
  return typeof accept === 'string' && /\btext\/html\b/i.test(accept);
}

function refusal(req: FastifyRequest, reply: FastifyReply, message: string): FastifyReply {
  if (!wantsHtml(req)) return sendShopError(reply, 400, message);
  const html =
    `<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">` +
    `<meta name="robots" content="noindex,nofollow"><title>Basket link not valid</title></head>` +
    `<body><h1>This basket link cannot be used</h1><p>${escapeHtml(message)}.</p></body></html>\n`;
  return reply
    .code(400)
    .header('Content-Type', 'text/html; charset=utf-8')
    .header('Content-Security-Policy', "default-src 'none'; base-uri 'none'; frame-ancestors 'none'")
    .headers(PAGE_SECURITY_HEADERS)
    .send(html);
}

const RecoverQuery = Type.Object(
  {
    // optional here, so that a link missing a part gets the page too, not a bare validation error
    basket: Type.Optional(Type.String({ maxLength: 256, description: 'The basket id' })),
    recover: Type.Optional(Type.String({ maxLength: 1024, description: 'The signed recovery token' })),
  },
  { additionalProperties: true },
);

export const recoverRoute: ShopRoutePlugin = async (plain, opts) => {
  const app = plain.withTypeProvider<TypeBoxTypeProvider>();
  const { checkout, partners, now } = opts;

  app.get(
    '/checkout/recover',
    {
      schema: {
        tags: ['Shop: Checkout'],
        operationId: 'shopRecoverBasket',
        summary: 'Open a recovery link: restores the landing state and redirects to the shop',
        description:
          'No access token: the signed link (from the abandoned listing) is the credential; it expires with its basket. ' +
          'Sets `limio_state` and answers 302 to the partner\'s shop URL. Refusals: 400, an HTML page when the client accepts text/html.',
        security: [],
        querystring: RecoverQuery,
        response: { 302: Type.Null({ description: 'To the partner\'s shop, with the landing-state cookie' }) },
        'x-shop-errors': { 400: ['The recovery link is invalid or has expired', 'The basket was already ordered'] },
      },
    },
    async (req, reply) => {
      const { basket: basketId, recover } = req.query;
      if (!isBasketId(basketId) || typeof recover !== 'string' || recover === '') return refusal(req, reply, 'The recovery link is invalid or has expired');
      try {
        const basket = await checkout.abandoned.recover(basketId, recover);
        const url = partners.byId(basket.partnerId)?.shop?.url;
        if (!url) return refusal(req, reply, 'This shop has no address to return to');
        setLandingState(reply, basket, now());
        return reply.header('Cache-Control', 'no-store').redirect(url, 302);
      } catch (err) {
        if (isShopRuleError(err) && err.status === 400) return refusal(req, reply, err.message);
        throw err;
      }
    },
  );
};
