/**
 * The demo shop (issue 20), served only with the development partner (DEV_PARTNER): the development partner's
 * `shop.url` is `/demo/shop`, so a TV transfer and a recovery link land here.
 *
 *   GET  /demo/shop                 the basket page (`?jaySource=..&jayToken=..` from a TV transfer)
 *   GET  /demo/shop/account         a subscription's change options (`?subscription=<id>`)
 *   GET  /demo/shop/demo-shop.js    the pages' one script (demo/shop/demo-shop.js), and /demo/shop/icon.svg
 *   POST /demo/shop/token           a shop access token of the development client, for the page's own script
 *   GET  /demo/shop/basket          `{basket}`: the landing-state cookie's checkout basket or null (no such read in the API)
 *
 * The pages call the real shop API (`/api/...`, same origin) with a bearer token from `POST /demo/shop/token`,
 * which signs one server-side for the development client: the browser never sees the client secret. That route
 * answers same-origin requests only (docs/decisions.md, "Demo shop"). The token-bearing URL of a transfer is not
 * redeemed by the GET (link previewers run no script): the script initiates with the jayToken.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { ShopClients } from '../../auth/shop-clients.js';
import type { ShopTokens } from '../../auth/shop-tokens.js';
import { DEV_SHOP_CLIENT, DEV_SHOP_PATH } from '../../config.js';
import { landingStateOf } from '../../domain/shop/landing-state.js';
import type { ShopBasketService } from '../../service/shop/baskets.js';
import { accountPageBody, DEMO_SHOP_ICON, DEMO_SHOP_ICON_PATH, DEMO_SHOP_SCRIPT_PATH, demoPage, shopPageBody } from '../demo-shop-pages.js';
import { shopAuthHook, shopClientOf } from '../shop/auth.js';
import { basketView } from '../shop/checkout-schemas.js';
import { handleShopError, ShopError } from '../shop/errors.js';
import { PAGE_SECURITY_HEADERS } from './landing.js';

/** The browser script, beside the demo data (it is no part of the TypeScript build). */
const SCRIPT_FILE = fileURLToPath(new URL('../../../demo/shop/demo-shop.js', import.meta.url));

export interface DemoShopRoutesOptions {
  clients: ShopClients;
  tokens: ShopTokens;
  baskets: ShopBasketService;
  /** This service's public URL: behind a proxy that rewrites Host, its origin is the pages' origin. */
  publicUrl: { readonly base: string };
}

/** A query parameter given once as a string, else ''. */
function queryString(query: unknown, name: string): string {
  if (typeof query !== 'object' || query === null) return '';
  const v = (query as Record<string, unknown>)[name];
  return typeof v === 'string' ? v : '';
}

/**
 * Whether a request comes from a page of this origin. Browsers send `Sec-Fetch-Site` (and `Origin` on a POST);
 * the device CORS hook would let any origin read a non-shop answer for the development partner (`*`), so a
 * cross-site caller is refused here. A client without either header (curl) is no browser: it could use the
 * development client's published secret anyway.
 */
function sameOrigin(req: FastifyRequest, publicOrigin: string): boolean {
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin') return false;
  const origin = req.headers.origin;
  if (origin === undefined || origin === publicOrigin) return true;
  const host = req.headers.host;
  return host !== undefined && (origin === `http://${host}` || origin === `https://${host}`);
}

export const demoShopRoutes: FastifyPluginAsync<DemoShopRoutesOptions> = async (app, { clients, tokens, baskets, publicUrl }) => {
  const script = await readFile(SCRIPT_FILE, 'utf8');
  const client = clients.byId(DEV_SHOP_CLIENT.id);
  if (!client) throw new Error(`the demo shop needs the development shop client ${DEV_SHOP_CLIENT.id}`);
  // the JSON routes answer in the shop's format, like the API the pages call
  app.setErrorHandler(handleShopError);

  app.get(DEV_SHOP_PATH, { schema: { hide: true } }, async (_req, reply) => demoPage(reply, 'shop', 'Demo shop', shopPageBody()));

  app.get(`${DEV_SHOP_PATH}/account`, { schema: { hide: true } }, async (req, reply) =>
    demoPage(reply, 'account', 'Your subscription – demo shop', accountPageBody(queryString(req.query, 'subscription').slice(0, 128))),
  );

  app.get(DEMO_SHOP_SCRIPT_PATH, { schema: { hide: true } }, async (_req, reply) =>
    reply.header('Content-Type', 'text/javascript; charset=utf-8').headers(PAGE_SECURITY_HEADERS).send(script),
  );

  app.get(DEMO_SHOP_ICON_PATH, { schema: { hide: true } }, async (_req, reply) =>
    reply.header('Content-Type', 'image/svg+xml').header('Cache-Control', 'max-age=86400').header('X-Content-Type-Options', 'nosniff').send(DEMO_SHOP_ICON),
  );

  app.post(`${DEV_SHOP_PATH}/token`, { schema: { hide: true } }, async (req, reply) => {
    if (!sameOrigin(req, new URL(publicUrl.base).origin)) throw new ShopError(403, 'The demo shop token is for the demo pages of this origin only');
    const issued = await tokens.issue(client, client.scopes);
    return reply
      .header('Cache-Control', 'no-store')
      .send({ access_token: issued.accessToken, token_type: 'Bearer', expires_in: issued.expiresIn, scope: issued.scope });
  });

  app.get(
    `${DEV_SHOP_PATH}/basket`,
    { schema: { hide: true }, onRequest: shopAuthHook({ tokens }) },
    async (req, reply) => {
      const { partnerId } = shopClientOf(req);
      const id = landingStateOf(req.headers.cookie);
      const basket = id === null ? null : await baskets.get(partnerId, id);
      reply.header('Cache-Control', 'no-store');
      // none is an everyday state of the page, not an error (a 404 would be a console error in the browser); a
      // subscription change's basket is the account page's, not one to order here
      if (basket === null || basket.orderType !== 'new') return { basket: null };
      const orderId = basket.status === 'completed' ? (basket.submission?.orderId ?? null) : null;
      return { basket: { ...basketView(basket), status: basket.status, orderId } };
    },
  );
};
