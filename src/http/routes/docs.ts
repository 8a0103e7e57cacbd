/**
 * `/docs`: Swagger UI over `/openapi.json`, with the landing page's security headers. Its CSP is the UI's own
 * (hashes of its inline script and style), tightened: no framing, no base URI, no form targets elsewhere, no calls
 * to the public swagger validator.
 */
import type { FastifyPluginAsync } from 'fastify';
import swaggerUi from '@fastify/swagger-ui';
import { PAGE_SECURITY_HEADERS } from './landing.js';

/** The tags of the document, in the order Swagger UI shows them. */
export const OPENAPI_TAGS = [
  { name: 'Device: Basket', description: "The device surface (Media Jay Basket API): a user's basket: cart, saved list, transfer" },
  { name: 'Device: Products', description: 'The device surface: product information' },
  { name: 'Device: Guest', description: 'The device surface: guest baskets and redeeming transfer tokens' },
  { name: 'Device: Checkout', description: 'The device surface: checkout sessions and comfort settings' },
  { name: 'Device: Orders', description: "The device surface: the user's orders" },
  { name: 'Shop: OAuth', description: 'The shop surface (Checkout & Baskets API): access tokens for shop clients (OAuth 2.0 client credentials)' },
  { name: 'Shop: Checkout', description: 'The shop surface: checkout baskets, orders, subscription changes, abandoned baskets (Bearer token, scope checkout)' },
  { name: 'Admin', description: 'Catalogue, offers, subscriptions and tracking events, behind X-Admin-Key' },
  { name: 'Health', description: 'Liveness, readiness and the service keys' },
];

/** The Swagger UI CSP with our tightenings. */
export function docsCsp(header: string): string {
  const kept = header
    .split(';')
    .map((d) => d.trim())
    .filter((d) => d !== '' && !/^(frame-ancestors|base-uri|upgrade-insecure-requests|form-action)\b/.test(d))
    .map((d) => (d.startsWith('img-src') ? "img-src 'self' data:" : d));
  return [...kept, "base-uri 'none'", "form-action 'self'", "frame-ancestors 'none'"].join('; ');
}

export const docsRoutes: FastifyPluginAsync = async (app) => {
  // every route of the UI (page, initializer, static assets) is in this scope
  app.addHook('onSend', async (_request, reply) => {
    reply.headers(PAGE_SECURITY_HEADERS);
  });
  await app.register(swaggerUi, {
    routePrefix: '/docs',
    staticCSP: true,
    transformStaticCSP: docsCsp,
    uiConfig: { validatorUrl: null },
  });
};
