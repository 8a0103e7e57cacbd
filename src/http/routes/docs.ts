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
  { name: 'Basket', description: "A user's basket: cart, saved list, transfer" },
  { name: 'Products', description: 'Product information' },
  { name: 'Guest', description: 'Guest baskets and redeeming transfer tokens' },
  { name: 'Checkout', description: 'Checkout sessions and comfort settings' },
  { name: 'Orders', description: "The user's orders" },
  { name: 'Admin', description: 'Catalogue, shop offers and subscriptions, tracking events; behind X-Admin-Key' },
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
