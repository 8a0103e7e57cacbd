/**
 * The shop surface (shop-api.md), one plugin beside the device routes: the token endpoint, and the checkout
 * operations in a scope that authenticates every request (shop token with the `checkout` scope) before any body is
 * read. Errors are the shop's `{"message"}` (errors.ts) throughout the scope.
 *
 * Registered by app.ts before the device rate limits are installed: this surface places its own gates (lockout and
 * per-address before authentication, per-partner after it), in the order its hooks need.
 */
import type { FastifyInstance, FastifyPluginAsync, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';
import type { PartnerRegistry } from '../../auth/partners.js';
import type { RecaptchaVerifiers } from '../../auth/recaptcha.js';
import type { ShopClients } from '../../auth/shop-clients.js';
import type { ShopTokens } from '../../auth/shop-tokens.js';
import type { PublicUrl } from '../../public-url.js';
import type { ShopStore } from '../../store/interface/shop.js';
import type { ShopCheckout } from '../../service/shop/index.js';
import type { RateLimiting } from '../rate-limit/install.js';
import { abandonedRoute, recoverRoute } from './abandoned-routes.js';
import { shopAuthHook } from './auth.js';
import { basketRoutes } from './basket-routes.js';
import { orderRoute } from './order-route.js';
import { handleShopError } from './errors.js';
import { SHOP_API_PREFIX } from './paths.js';
import { requireRecaptcha } from './recaptcha.js';
import { subscriptionRoutes } from './subscription-routes.js';
import { tokenRoute } from './token.js';

/** What the shop surface needs from the composition root (server.ts). */
export interface ShopSurfaceDeps {
  clients: ShopClients;
  tokens: ShopTokens;
  recaptcha: RecaptchaVerifiers;
  /** `store.shop`. */
  shopStore: ShopStore;
  /** The checkout operations' services (src/service/shop). */
  checkout: ShopCheckout;
  /** Authenticated route plugins registered after CHECKOUT_ROUTES (tests of the scaffold itself). */
  extraCheckoutRoutes?: readonly ShopRoutePlugin[];
}

/** What every shop route plugin receives (CHECKOUT_ROUTES, PUBLIC_SHOP_ROUTES). */
export interface ShopRouteOptions {
  shopStore: ShopStore;
  checkout: ShopCheckout;
  partners: PartnerRegistry;
  publicUrl: PublicUrl;
  now: () => number;
  /**
   * preHandler of the operations that need `x-limio-recaptcha` (shop-api.md §3.4, §3.6): 400 when it is missing or
   * rejected, 502 when the verifier cannot answer. Use it in the route's options: `{ preHandler: recaptcha }`.
   */
  recaptcha: preHandlerAsyncHookHandler;
}

export type ShopRoutePlugin = FastifyPluginAsync<ShopRouteOptions>;

/**
 * The checkout operations: every route here is authenticated (request.shopClient set; shopClientOf(request)).
 * Paths are relative to `/api` (the scope's prefix): a plugin adds `/checkout/initiate`, `/order`, ...
 */
const CHECKOUT_ROUTES: readonly ShopRoutePlugin[] = [basketRoutes, orderRoute, abandonedRoute, subscriptionRoutes];

/** Shop routes without a bearer token (the recovery link a shopper opens, §3.8); paths relative to `/api` too. */
const PUBLIC_SHOP_ROUTES: readonly ShopRoutePlugin[] = [recoverRoute];

export interface ShopPluginOptions {
  deps: ShopSurfaceDeps;
  partners: PartnerRegistry;
  publicUrl: PublicUrl;
  now: () => number;
  /** The service's rate limits (their shop gates); absent: no limits. */
  rateLimits?: Pick<RateLimiting, 'shopGates'>;
}

const present = <T>(v: T | null | undefined): v is T => v !== null && v !== undefined;

export async function shopSurface(app: FastifyInstance, opts: ShopPluginOptions): Promise<void> {
  const { deps, partners } = opts;
  const gates = opts.rateLimits?.shopGates('shop');
  const tokenGates = opts.rateLimits?.shopGates('oauth');
  await app.register(async (shop) => {
    shop.setErrorHandler(handleShopError);
    shop.decorateRequest('shopClient', null);
    const onFailure = gates ? (req: FastifyRequest) => gates.recordFailure(req) : undefined;

    await shop.register(tokenRoute, {
      clients: deps.clients,
      tokens: deps.tokens,
      ...(onFailure ? { onFailure } : {}),
      gates: [tokenGates?.lockout, tokenGates?.address].filter(present),
    });

    const routeOptions: ShopRouteOptions = {
      shopStore: deps.shopStore,
      checkout: deps.checkout,
      partners,
      publicUrl: opts.publicUrl,
      now: opts.now,
      recaptcha: requireRecaptcha(deps.recaptcha),
    };

    await shop.register(
      async (open) => {
        if (gates?.address) open.addHook('onRequest', gates.address);
        for (const plugin of PUBLIC_SHOP_ROUTES) await open.register(plugin, routeOptions);
      },
      { prefix: SHOP_API_PREFIX },
    );

    await shop.register(
      async (checkout) => {
        // in this order: a locked-out address is refused before its token is looked at; the partner's budget is
        // spent only by authenticated requests
        if (gates?.lockout) checkout.addHook('onRequest', gates.lockout);
        checkout.addHook('onRequest', shopAuthHook({ tokens: deps.tokens, ...(onFailure ? { onFailure } : {}) }));
        const partnerGate = gates?.partner((req) => (req.shopClient ? partners.byId(req.shopClient.partnerId) : undefined));
        if (partnerGate) checkout.addHook('onRequest', partnerGate);
        for (const plugin of [...CHECKOUT_ROUTES, ...(deps.extraCheckoutRoutes ?? [])]) await checkout.register(plugin, routeOptions);
      },
      { prefix: SHOP_API_PREFIX },
    );
  });
}
