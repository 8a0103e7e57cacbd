/**
 * Builds the Fastify application: envelope-wide error handling, version negotiation, CORS per partner,
 * OpenAPI, and the routes of both prefixes (`/v2/...` and bare).
 */
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyRequest } from 'fastify';
import swagger from '@fastify/swagger';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Config } from '../config.js';
import type { PartnerRegistry } from '../auth/partners.js';
import type { ServiceKeys } from '../auth/service-keys.js';
import type { TokenVerifier } from '../auth/tokens.js';
import type { BasketService } from '../service/baskets.js';
import type { CheckoutService } from '../service/checkout.js';
import type { EventRecorder } from '../service/events.js';
import type { GuestService } from '../service/guests.js';
import type { ShopAdminService } from '../service/shop-admin.js';
import { MergeService } from '../service/merge.js';
import type { TransferService } from '../service/transfer.js';
import type { BasketFeed } from '../service/live.js';
import type { BasketWebhooks } from '../service/basket-webhooks.js';
import { adminWebhookRoutes } from './routes/admin-webhooks.js';
import type { StreamTickets } from '../auth/stream-tickets.js';
import { LiveStreams } from './live-stream.js';
import { liveRoutes } from './routes/live.js';
import type { Store } from '../store/store.js';
import type { PublicUrl } from '../public-url.js';
import { registerAuth } from './auth.js';
import type { RateLimiting } from './rate-limit/install.js';
import { installCors } from './cors.js';
import { compressed } from './compression.js';
import { installRequestMetrics, metricsRoutes } from '../metrics/http.js';
import type { Metrics } from '../metrics/metrics.js';
import { clientErrorHandler, frameworkErrors, installErrorHandling, installNotFound, sendError } from './errors.js';
import { guardConnections } from './connections.js';
import { adminRoutes } from './routes/admin.js';
import { adminEventsComponents, adminEventsRoutes } from './routes/admin-events.js';
import { adminOffersComponents, adminOffersRoutes } from './routes/admin-offers.js';
import { adminSubscriptionsComponents, adminSubscriptionsRoutes } from './routes/admin-subscriptions.js';
import { basketRoutes } from './routes/baskets.js';
import { checkoutComponents, checkoutRoutes } from './routes/checkout.js';
import { stripeWebhookRoutes } from './routes/stripe-webhook.js';
import { guestComponents, guestRoutes } from './routes/guests.js';
import { landingRoutes } from './routes/landing.js';
import { demoShopRoutes } from './routes/demo-shop.js';
import { healthComponents, healthRoutes } from './routes/health.js';
import { API_VERSIONS, DEFAULT_API_VERSION, SHARED_SCHEMAS } from './schemas.js';
import { finishDocument } from './openapi.js';
import { docsRoutes, OPENAPI_TAGS } from './routes/docs.js';
import { lazyChildLogger, requestId } from './request-logger.js';
import { BasketError } from '../domain/errors.js';
import { isShopPath } from './shop/paths.js';
import { shopSurface, type ShopSurfaceDeps } from './shop/index.js';
import { containsNul } from '../domain/nul.js';
import { containsLoneSurrogate, jsonTooDeep, MAX_JSON_DEPTH, mayHoldEscapes } from '../domain/json-guard.js';

export interface AppDeps {
  config: Config;
  store: Store;
  baskets: BasketService;
  partners: PartnerRegistry;
  tokens: TokenVerifier;
  serviceKeys: ServiceKeys;
  /** Guest baskets and basket transfer (spec §3.7, §3.8). */
  guests: GuestService;
  transfers: TransferService;
  /** Loading the shop's offers and subscriptions (admin routes); absent: those routes are not served. */
  shopAdmin?: ShopAdminService;
  /** Checkout sessions, orders and PSP webhooks (issue 4); absent: those routes are not served. */
  checkout?: CheckoutService;
  /** The service's logger (pino): request logs are its children. */
  log: FastifyBaseLogger;
  /** Request-rate limits (issue 17); absent: none. */
  rateLimits?: RateLimiting;
  /** The public base URL (OpenAPI `servers`); follows the bound port when PUBLIC_URL is unset. */
  publicUrl: PublicUrl;
  /** Prometheus metrics (issue 21): requests are timed and `GET /metrics` served; absent: neither. */
  metrics?: Metrics;
  /** Tracking events of basket actions (issue 23). */
  events: EventRecorder;
  /** The live change stream (issue 22): the basket feed and the stream tickets; absent: not served. */
  live?: { feed: BasketFeed; tickets: StreamTickets };
  /** Basket webhooks (issue 22): the operator's replay route; absent: not served. */
  basketWebhooks?: BasketWebhooks;
  /** The shop surface (shop-api.md): OAuth clients, tokens, reCAPTCHA, its store; absent: not served. */
  shop?: ShopSurfaceDeps;
}

const SUPPORTED_VERSIONS = new Set<string>(API_VERSIONS);
function refused(field: 'url' | 'body', message: string): BasketError {
  return new BasketError('REQUEST_VALIDATION_ERROR', `${field} ${message}`, [{ field, message }]);
}
const NUL = 'must not contain NUL characters';
const LONE_SURROGATE = 'must be well-formed Unicode (no lone surrogates)';
const TOO_DEEP = `must not nest objects and arrays deeper than ${MAX_JSON_DEPTH} levels`;

/**
 * What is wrong with a URL holding `%`: an encoded NUL, or a query string that is not percent-encoded UTF-8 (the
 * router refuses such paths itself; the query parser would pass them on as they are).
 */
function urlProblem(url: string): BasketError | null {
  if (url.includes('%00')) return refused('url', NUL);
  const q = url.indexOf('?');
  if (q === -1 || !url.includes('%', q)) return null;
  try {
    decodeURIComponent(url.slice(q + 1));
    return null;
  } catch {
    return refused('url', 'must be valid percent-encoded UTF-8');
  }
}

export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const { config, partners, log } = deps;
  const app = Fastify({
    // Given a logger, Fastify puts 'finish' and 'error' listeners on every response to time it for the
    // "request completed" line (~1 µs of a GET's ~22 µs). Without request logging no such line is written,
    // so Fastify gets no logger of its own; request.log still logs through ours (childLoggerFactory).
    ...(config.logRequests ? { loggerInstance: log } : {}),
    bodyLimit: config.limits.bodyLimit,
    trustProxy: config.trustProxy,
    // A bounded edge (issue 17): no request, body included, takes longer than REQUEST_TIMEOUT, idle keep-alive
    // connections close after KEEP_ALIVE_TIMEOUT, and Node checks for both every second (its default: 30 s).
    requestTimeout: config.edge.requestTimeoutMs,
    keepAliveTimeout: config.edge.keepAliveTimeoutMs,
    http: { requestTimeout: config.edge.requestTimeoutMs, headersTimeout: config.edge.headersTimeoutMs, connectionsCheckingInterval: 1000 },
    clientErrorHandler,
    frameworkErrors,
    // the client's X-Request-Id only when short and plain (it is echoed and logged)
    requestIdHeader: false,
    // let the route schemas judge path parameters (user ids up to 256 chars), not the router's 100-char cap
    routerOptions: { maxParamLength: 1024 },
    genReqId: requestId,
    childLoggerFactory: config.logRequests ? lazyChildLogger : (_none, bindings, options) => lazyChildLogger(log, bindings, options),
    // request logs cost a third of the throughput on the hot path; errors are still logged
    logController: new LogController({ disableRequestLogging: !config.logRequests }),
    // no type coercion ("2" is not a count) and no silent removal of unknown fields (strict schemas reject them)
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } },
    // While draining at SIGTERM a request that still arrives on an open connection is served (with `Connection:
    // close`; the store stays open until every request has finished) instead of Fastify's bare 503, which is not
    // our envelope.
    return503OnClosing: false,
  }).withTypeProvider<TypeBoxTypeProvider>();

  installErrorHandling(app);
  installNotFound(app);
  // first of the onRequest hooks: the timing starts before any of them runs
  if (deps.metrics) installRequestMetrics(app, deps.metrics);
  const connections = guardConnections(app.server, { maxConnections: config.edge.maxConnections, maxPerAddress: config.edge.maxConnectionsPerIp }, log);
  app.addHook('preClose', (done) => {
    connections.closing(config.edge.requestTimeoutMs);
    done();
  });
  app.addHook('onClose', (_app, done) => {
    connections.stop();
    done();
  });

  // An empty JSON body is "no body" (clients send Content-Type on body-less POSTs); anything else is parsed
  // by Fastify's own parser, which guards against prototype poisoning. Deep nesting is refused before the
  // parser (nothing recursive ever sees it), and strings no store can keep (NUL, lone surrogates) after it.
  const jsonParser = app.getDefaultJsonParser('error', 'error');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (text.trim() === '') return done(null, undefined);
    if (jsonTooDeep(text)) return done(refused('body', TOO_DEEP));
    if (!mayHoldEscapes(text)) return jsonParser(req, text, done);
    jsonParser(req, text, (err, parsed) => {
      if (err) return done(err);
      if (containsNul(parsed)) return done(refused('body', NUL));
      if (containsLoneSurrogate(parsed)) return done(refused('body', LONE_SURROGATE));
      done(null, parsed);
    });
  });
  // the API speaks JSON: a text body is a 415, not a string handed to a schema (the admin import adds its own)
  app.removeContentTypeParser('text/plain');

  // callback style, not async: this runs on every request and needs no promise (a throw reaches the error handler)
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('X-Request-Id', request.id);
    // the shop surface is not versioned by these headers (shop-api.md); its URLs are checked all the same
    if (isShopPath(request.url)) {
      const problem = request.url.includes('%') ? urlProblem(request.url) : null;
      return done(problem ?? undefined);
    }
    const asked = request.headers['x-api-version'] ?? request.headers['x-jay-api-version'];
    const version = typeof asked === 'string' && asked !== '' ? asked : DEFAULT_API_VERSION;
    if (!SUPPORTED_VERSIONS.has(version)) {
      reply.header('X-API-Version', DEFAULT_API_VERSION);
      // answered here: done() is not called, so no later hook or handler runs
      sendError(reply, 'VERSION_NOT_ACCEPTABLE', `API version ${version} is not supported; use one of ${API_VERSIONS.join(', ')}`, {
        supported: API_VERSIONS,
      });
      return;
    }
    reply.header('X-API-Version', version);
    if (request.url.includes('%')) {
      const problem = urlProblem(request.url);
      if (problem) throw problem;
    }
    // X-JAY-Tracking is decoded where an event is recorded (attributionOf), never a failure
    done();
  });

  installCors(app, partners);

  for (const schema of [...SHARED_SCHEMAS, ...guestComponents, ...healthComponents, ...adminEventsComponents, ...(deps.checkout ? checkoutComponents : []), ...(deps.shopAdmin ? [...adminOffersComponents, ...adminSubscriptionsComponents] : [])]) {
    app.addSchema(schema);
  }
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Basket API',
        version: DEFAULT_API_VERSION,
        description:
          'Shopping baskets for shoppable streaming; wire-compatible with the Media Jay Basket API v2 (2025-09-15). ' +
          'Every route is also served without the /v2 prefix. Every answer is the envelope `{data, nextToken, error}`; ' +
          'an error carries the status and an API code (`error.code`) a client can branch on.',
        license: { name: 'MIT', identifier: 'MIT' },
      },
      servers: [{ url: config.publicUrl }],
      tags: OPENAPI_TAGS,
      components: {
        securitySchemes: {
          ApiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
          Bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
          AdminKey: { type: 'apiKey', in: 'header', name: 'X-Admin-Key' },
          StreamTicket: { type: 'apiKey', in: 'query', name: 'ticket', description: 'A stream ticket (createStreamTicket): opens one basket\'s change stream' },
          ShopOAuth: {
            type: 'oauth2',
            description: 'The shop surface: an access token from POST /oauth2/token (client credentials), sent as `Authorization: Bearer`',
            flows: { clientCredentials: { tokenUrl: '/oauth2/token', scopes: { checkout: 'Checkout baskets, orders and subscription changes' } } },
          },
          ShopClientBasic: { type: 'http', scheme: 'basic', description: 'A shop client id and secret (POST /oauth2/token only)' },
        },
      },
    },
    // named schemas keep their $id as their name under components.schemas (the default is def-0, def-1, ...)
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`) },
    // the document is built at its first request, after listen: its server URL carries the bound port
    transformObject: (doc) =>
      'openapiObject' in doc ? finishDocument({ ...doc.openapiObject, servers: [{ url: deps.publicUrl.base }] }) : doc.swaggerObject,
  });
  await app.register(compressed((docs) => docs.register(docsRoutes)));

  if (deps.shop) {
    // before the device rate limits are installed: the shop places its own gates (src/http/shop/index.ts)
    await shopSurface(app, {
      deps: deps.shop,
      partners,
      publicUrl: deps.publicUrl,
      now: deps.baskets.now,
      ...(deps.rateLimits ? { rateLimits: deps.rateLimits } : {}),
    });
  }

  const auth = registerAuth(app, partners, deps.tokens, deps.live?.tickets);
  // before the routes: it adds its checks to each route as the route is added
  deps.rateLimits?.install(app, auth);
  const { events } = deps;
  const merge = new MergeService({ baskets: deps.baskets, tokens: deps.tokens });
  await app.register(basketRoutes, { prefix: '/v2', baskets: deps.baskets, merge, events, auth, hide: false });
  await app.register(basketRoutes, { baskets: deps.baskets, merge, events, auth, hide: true });
  await app.register(guestRoutes, { prefix: '/v2', baskets: deps.baskets, guests: deps.guests, transfers: deps.transfers, events, auth, hide: false });
  await app.register(guestRoutes, { baskets: deps.baskets, guests: deps.guests, transfers: deps.transfers, events, auth, hide: true });
  if (deps.live) {
    const streams = new LiveStreams(config.live.heartbeatMs);
    // streams never finish by themselves: ended first thing at shutdown, so the drain does not wait for them
    app.addHook('preClose', (done) => {
      streams.closeAll();
      done();
    });
    const liveOpts = { feed: deps.live.feed, tickets: deps.live.tickets, baskets: deps.baskets, streams, auth };
    await app.register(liveRoutes, { prefix: '/v2', ...liveOpts, hide: false });
    await app.register(liveRoutes, { ...liveOpts, hide: true });
  }
  await app.register(landingRoutes, { baskets: deps.baskets, transfers: deps.transfers, partners, events, ...(deps.live ? { tickets: deps.live.tickets } : {}) });
  // the demo shop: the development partner's shop URL (dev only; its pages call the shop API above)
  if (config.devPartner && deps.shop) {
    await app.register(demoShopRoutes, {
      clients: deps.shop.clients,
      tokens: deps.shop.tokens,
      baskets: deps.shop.checkout.baskets,
      publicUrl: deps.publicUrl,
    });
  }
  if (deps.checkout) {
    const checkoutOpts = { checkout: deps.checkout, auth, idempotencyMs: config.lifetimes.idempotencyMs, now: deps.checkout.now };
    await app.register(checkoutRoutes, { prefix: '/v2', ...checkoutOpts, hide: false });
    await app.register(checkoutRoutes, { ...checkoutOpts, hide: true });
    const shopPayments = deps.shop ? { store: deps.shop.shopStore, orders: deps.shop.checkout.orders } : undefined;
    await app.register(stripeWebhookRoutes, { checkout: deps.checkout, partners, now: deps.checkout.now, ...(shopPayments ? { shop: shopPayments } : {}) });
  }
  await app.register(adminRoutes, { store: deps.store, baskets: deps.baskets, partners, adminKey: config.adminKey });
  if (deps.shopAdmin) {
    const shopAdminOpts = { admin: deps.shopAdmin, partners, adminKey: config.adminKey };
    await app.register(adminOffersRoutes, shopAdminOpts);
    await app.register(adminSubscriptionsRoutes, shopAdminOpts);
  }
  await app.register(adminEventsRoutes, { store: deps.store, events, partners, adminKey: config.adminKey, retentionMs: config.events.ttlMs, now: deps.baskets.now });
  if (deps.basketWebhooks) await app.register(adminWebhookRoutes, { webhooks: deps.basketWebhooks, partners, adminKey: config.adminKey });
  await app.register(healthRoutes, { store: deps.store, serviceKeys: deps.serviceKeys, timeoutMs: config.storeTimeoutMs });
  // the large answers, compressed (compression.ts); the device routes above stay out of its reach
  await app.register(
    compressed(async (large) => {
      large.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
      if (deps.metrics) await large.register(metricsRoutes, { metrics: deps.metrics, token: config.metricsToken });
    }),
  );

  return app;
}
