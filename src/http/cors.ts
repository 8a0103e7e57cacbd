/**
 * CORS per partner. Hand-written instead of @fastify/cors: TV apps send no `Origin`, and the plugin's per-request
 * option delegate cost ~8% of the hot path's CPU even then; this hook returns at once without `Origin`.
 * A preflight carries no API key, so it is answered for any origin some partner allows; the real request is
 * checked against the calling partner's own origins. A preflight from an origin no partner allows is answered
 * 403 in the envelope, without any `Access-Control-*` header: the browser then refuses the real request (Fetch
 * standard, CORS-preflight fetch), and nobody reading the answer is sent looking for a wrong path or method (it
 * used to be a 404 or 405).
 */
import type { FastifyInstance, FastifyReply, HookHandlerDoneFunction } from 'fastify';
import type { PartnerConfig } from '../config.js';
import type { PartnerRegistry } from '../auth/partners.js';
import { isShopPath, SHOP_TOKEN_PATH } from './shop/paths.js';

const ALLOW_HEADERS = 'Content-Type, Authorization, X-API-Key, X-JAY-Tracking, X-API-Version, x-jay-api-version, Idempotency-Key';
const ALLOW_METHODS = 'GET, POST, PUT, PATCH, DELETE';
const EXPOSE_HEADERS = 'X-API-Version, X-Request-Id, Retry-After, RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset';

const SHOP_ALLOW_HEADERS = 'Content-Type, Authorization, x-limio-recaptcha';
const SHOP_EXPOSE_HEADERS = 'X-Request-Id, Retry-After, WWW-Authenticate';

/** The origin of a partner's shop URL (`shop.url`), or null. */
function shopOrigin(p: PartnerConfig): string | null {
  try {
    return p.shop ? new URL(p.shop.url).origin : null;
  } catch {
    return null;
  }
}

function allows(partners: readonly PartnerConfig[], origin: string): boolean {
  return partners.some((p) => (p.allowedOrigins ?? []).some((o) => o === '*' || o === origin));
}

export function installCors(app: FastifyInstance, partners: PartnerRegistry): void {
  app.addHook('onRequest', (request, reply, done) => {
    const origin = request.headers.origin;
    if (origin === undefined) return done();
    reply.header('Vary', 'Origin');
    const preflight = request.method === 'OPTIONS' && request.headers['access-control-request-method'] !== undefined;
    if (isShopPath(request.url)) return shopCors(origin, preflight, request.url, reply, done);
    const key = request.headers['x-api-key'];
    const partner = typeof key === 'string' ? partners.byApiKey(key) : undefined;
    const allowed = partner && !preflight ? allows([partner], origin) : allows(partners.all(), origin);
    if (!allowed) {
      if (!preflight) return done();
      reply.code(403).send({ data: null, nextToken: null, error: { code: 403, message: "The request's Origin is not allowed", details: 'ORIGIN_NOT_ALLOWED' } });
      return;
    }
    reply.header('Access-Control-Allow-Origin', origin);
    if (!preflight) {
      reply.header('Access-Control-Expose-Headers', EXPOSE_HEADERS);
      return done();
    }
    reply
      .header('Access-Control-Allow-Methods', ALLOW_METHODS)
      .header('Access-Control-Allow-Headers', ALLOW_HEADERS)
      .header('Access-Control-Max-Age', '600')
      .code(204)
      .send();
  });
  /**
   * The shop surface (docs/decisions.md): a browser may call `/api/...` from a partner's shop origin (`shop.url`),
   * with credentials (the `limio_state` cookie); the token endpoint is for servers only, never a browser's: a client
   * secret in a page is no secret. The partner is known only after the token, so any partner's shop origin passes
   * here and the token decides the rest.
   */
  function shopCors(origin: string, preflight: boolean, url: string, reply: FastifyReply, done: HookHandlerDoneFunction): void {
    const allowed = !url.startsWith(SHOP_TOKEN_PATH) && partners.all().some((p) => shopOrigin(p) === origin);
    if (!allowed) {
      if (!preflight) return done();
      reply.code(403).send({ message: "The request's Origin is not allowed" });
      return;
    }
    reply.header('Access-Control-Allow-Origin', origin).header('Access-Control-Allow-Credentials', 'true');
    if (!preflight) {
      reply.header('Access-Control-Expose-Headers', SHOP_EXPOSE_HEADERS);
      return done();
    }
    reply
      .header('Access-Control-Allow-Methods', 'GET, POST, PUT')
      .header('Access-Control-Allow-Headers', SHOP_ALLOW_HEADERS)
      .header('Access-Control-Max-Age', '600')
      .code(204)
      .send();
  }

  // lets preflights of any path reach the hook above (which answers them); other OPTIONS requests get 404
  app.options('*', { schema: { hide: true } }, async (_req, reply) => reply.callNotFound());
}
