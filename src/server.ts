/**
 * The composition root: store, keys, partners, services and the HTTP app, wired from a Config.
 * main.ts listens with it; tests build it with a temp data directory and their own clock.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import { pino, type DestinationStream } from 'pino';
import { DEV_PARTNER, DEV_SHOP_PATH, type Config, type PartnerConfig } from './config.js';
import { PublicUrl } from './public-url.js';
import { PartnerRegistry } from './auth/partners.js';
import { loadServiceKeys, type ServiceKeys } from './auth/service-keys.js';
import { createTokenVerifier } from './auth/tokens.js';
import { RecaptchaVerifiers } from './auth/recaptcha.js';
import { ShopClients } from './auth/shop-clients.js';
import { ShopTokens } from './auth/shop-tokens.js';
import type { ShopRoutePlugin } from './http/shop/index.js';
import { buildApp } from './http/app.js';
import { REDACT_PATHS, REDACTED, serializeRequest } from './http/redact.js';
import { BasketService } from './service/baskets.js';
import { parseProductLines } from './service/catalogue.js';
import { GuestService } from './service/guests.js';
import { ShopAdminService } from './service/shop-admin.js';
import { seedDemoShop } from './service/shop-demo.js';
import { TOPIC_SUBSCRIPTION_CHANGE, type SubscriptionChangePayload } from './service/shop/subscription-changes.js';
import { TransferService } from './service/transfer.js';
import { openStore } from './store/open.js';
import { openRateLimitStore, type RateLimitStore } from './store/rate-limits.js';
import { RateLimiting } from './http/rate-limit/install.js';
import type { OutboxMessage, Store } from './store/store.js';
import { startSweeper, type Sweeper } from './worker/sweeper.js';
import { PspRegistry, type Psp } from './psp/psp.js';
import { SandboxPsp } from './psp/sandbox.js';
import { StripePsp } from './psp/stripe.js';
import {
  CheckoutService,
  TOPIC_EXPIRE,
  TOPIC_ORDER,
  TOPIC_PAYMENT_DEADLINE,
  type ExpirePayload,
  type OrderPayload,
  type PaymentDeadlinePayload,
} from './service/checkout.js';
import { OrderDelivery } from './service/orders.js';
import { AnalyticsDelivery, EventRecorder, TOPIC_ANALYTICS, type AnalyticsPayload } from './service/events.js';
import { OutboxWorker } from './worker/outbox.js';
import { createShopCheckout, type ShopCheckout } from './service/shop/index.js';
import { TOPIC_SHOP_ORDER, TOPIC_SHOP_PAYMENT_DEADLINE, type ShopOrderPayload } from './service/shop/orders.js';
import { Metrics } from './metrics/metrics.js';
import { instrumentStore } from './metrics/store.js';
import cluster from 'node:cluster';
import { StreamTickets } from './auth/stream-tickets.js';
import { BasketFeed } from './service/live.js';
import { relayThroughPrimary } from './service/live-cluster.js';
import { BasketWebhooks, TOPIC_BASKET_ABANDONED, TOPIC_BASKET_CHANGED, type BasketWebhookPayload } from './service/basket-webhooks.js';

export interface ServerOptions {
  now?: () => number;
  /** pino options, or false for silence. */
  logger?: boolean | Record<string, unknown>;
  /** Use this store instead of opening config.storeUrl (closed with the server all the same). */
  store?: Store;
  /** Payment providers to use instead of the configured sandbox and Stripe (tests). */
  psps?: Psp[];
  /** Use this rate-limit counter store instead of opening one for config.storeUrl (closed with the server). */
  rateLimitStore?: RateLimitStore;
  /** Authenticated shop route plugins added to the checkout scope (tests of the shop scaffold). */
  shopRoutes?: ShopRoutePlugin[];
}

export interface Server {
  app: FastifyInstance;
  /** The service's logger; request logs are its children (`app.log` is it only with LOG_REQUESTS). */
  log: FastifyBaseLogger;
  store: Store;
  baskets: BasketService;
  serviceKeys: ServiceKeys;
  sweeper: Sweeper | null;
  checkout: CheckoutService;
  /** The shop surface's checkout services (issue 19). */
  shopCheckout: ShopCheckout;
  /** The outbox worker (checkout expiry, order delivery); polling only when config.runWorkers. */
  outbox: OutboxWorker;
  /** Tracking events (issue 23): recorded per turn, written to the store off the request's path. */
  events: EventRecorder;
  /** The public base URL; with PUBLIC_URL unset it follows the address `listen()` bound. */
  publicUrl: PublicUrl;
  /** Prometheus metrics (`GET /metrics`). */
  metrics: Metrics;
  /** Who watches which basket in this process (the live change stream, issue 22). */
  feed: BasketFeed;
  /** `basket.changed` / `basket.abandoned` deliveries (issue 22). */
  basketWebhooks: BasketWebhooks;
  /** Listens on config.host:config.port (PORT=0: a free port); resolves with the address, e.g. http://127.0.0.1:8080. */
  listen(): Promise<string>;
  /**
   * Stops accepting connections, lets requests in flight finish, stops the background workers at a safe point (the
   * outbox message being handled finishes, the sweep batch in progress ends), then closes the store.
   */
  close(): Promise<void>;
}

const DEMO_CATALOGUE = fileURLToPath(new URL('../demo/catalogue.jsonl', import.meta.url));

/** Loads the demo catalogue for the development partner, once (a restart keeps stock and reservations). */
async function seedDemoCatalogue(store: Store): Promise<void> {
  if (await store.hasCatalogue(DEV_PARTNER.id)) return;
  const { products, errors } = parseProductLines(await readFile(DEMO_CATALOGUE, 'utf8'));
  if (errors.length > 0) throw new Error(`demo catalogue is invalid: ${JSON.stringify(errors)}`);
  await store.upsertProducts(DEV_PARTNER.id, products);
}

/**
 * The development partner's landing page is this service's own: its URL is read from the public URL when a
 * transfer is made, so that it carries the port bound with PORT=0.
 */
function withOwnLandingPage(partners: readonly PartnerConfig[], publicUrl: PublicUrl): PartnerConfig[] {
  return partners.map((p) => {
    if (p.id !== DEV_PARTNER.id) return p;
    const copy = { ...p };
    Object.defineProperty(copy, 'landingUrl', { get: () => `${publicUrl.base}/landing`, enumerable: true });
    // its shop is the demo shop page, on the same address
    if (copy.shop) {
      const shop = { ...copy.shop };
      Object.defineProperty(shop, 'url', { get: () => `${publicUrl.base}${DEV_SHOP_PATH}`, enumerable: true });
      copy.shop = shop;
    }
    return copy;
  });
}


/**
 * The service's pino logger: `options` as pino's (plus Fastify's `stream`), false for silence. Requests are logged
 * with secret URL parts, headers and body fields masked (src/http/redact.ts).
 */
function serviceLogger(options: boolean | Record<string, unknown> | undefined, level: string): FastifyBaseLogger {
  if (options === false) return pino({ level: 'silent' });
  const { stream, ...rest } = typeof options === 'object' ? options : {};
  return pino(
    { level, serializers: { err: pino.stdSerializers.err, req: serializeRequest }, redact: { paths: REDACT_PATHS, censor: REDACTED }, ...rest },
    stream as DestinationStream | undefined,
  );
}

export async function createServer(config: Config, opts: ServerOptions = {}): Promise<Server> {
  const now = opts.now ?? Date.now;
  const metrics = new Metrics();
  // every store call timed by operation and engine (metrics/store.ts): the services only ever see this one
  const store = instrumentStore(
    opts.store ?? (await openStore(config.storeUrl, { pgPoolSize: config.pgPoolSize, timeoutMs: config.storeTimeoutMs })),
    metrics,
  );
  let rateLimitStore: RateLimitStore | null = opts.rateLimitStore ?? null;
  let rateLimits: RateLimiting | null = null;
  try {
    const serviceKeys = await loadServiceKeys({ config: config.serviceKeys, dataDir: config.dataDir, issuer: config.serviceIssuer });
    const publicUrl = new PublicUrl(config);
    const partners = new PartnerRegistry(config.devPartner ? withOwnLandingPage(config.partners, publicUrl) : config.partners);
    const tokens = createTokenVerifier({ serviceKeys, cacheSize: config.tokenCacheSize, now });
    metrics.watchTokenCache(tokens.cacheCounts);
    const baskets = new BasketService({
      store,
      limits: { maxCartLines: config.limits.maxCartLines, maxLineCount: config.limits.maxLineCount },
      basketMs: config.lifetimes.basketMs,
      guestMs: config.lifetimes.guestMs,
      productCacheMs: config.productCacheMs,
      now,
    });
    const shopAdmin = new ShopAdminService(store.shop);
    if (config.devPartner) {
      await seedDemoCatalogue(store);
      await seedDemoShop(shopAdmin, DEV_PARTNER.id, now());
    }
    const guests = new GuestService({ baskets, serviceKeys, guestMs: config.lifetimes.guestMs, tokens });
    const transfers = new TransferService({ store, guests, publicUrl, transferMs: config.lifetimes.transferMs, now });
    const log = serviceLogger(opts.logger, config.logLevel);
    metrics.watchOutbox({ store, now, timeoutMs: config.storeTimeoutMs, log });
    // counters next to the data (the same SQLite directory, PostgreSQL schema or Redis): shared by every process
    if (Object.values(config.rateLimits).some((rate) => rate.max > 0)) {
      rateLimitStore ??= await openRateLimitStore(config.storeUrl);
      rateLimits = new RateLimiting({ limits: config.rateLimits, store: rateLimitStore, log, now });
    }
    const partnerById = (id: string) => partners.byId(id);
    const events = new EventRecorder({
      store,
      secret: config.events.secret !== null ? Buffer.from(config.events.secret, 'utf8') : serviceKeys.deriveSecret('events-pseudonym'),
      partner: partnerById,
      now,
      log,
    });
    const feed = new BasketFeed({ store, maxStreams: config.live.maxStreams, maxPerUser: config.live.maxStreamsPerUser, log });
    // SQLite reports only this process's writes: under node:cluster the workers tell each other through the primary
    const unrelay = config.storeUrl.startsWith('sqlite:') && cluster.isWorker ? relayThroughPrimary(feed, store) : () => undefined;
    const tickets = new StreamTickets(serviceKeys.deriveSecret('live-stream-ticket'), config.live.ticketMs, now);
    const live = { feed, tickets };
    const basketWebhooks = new BasketWebhooks({ store, partner: (id) => partners.byId(id), transfers, settings: config.basketWebhooks, now, log });
    const unlistenWebhooks = basketWebhooks.listen();
    const psps = new PspRegistry(
      opts.psps ?? [new SandboxPsp({ decline: config.psp.sandboxDecline }), new StripePsp({ apiBase: config.psp.stripeApiBase })],
    );
    const shopClients = new ShopClients(partners.all());
    const shopCheckout = createShopCheckout({
      shop: store.shop,
      store,
      transfers,
      psps,
      partner: partnerById,
      // signing keys of their own, derived like the events' pseudonym key: a new service key invalidates both
      cursorKey: serviceKeys.deriveSecret('shop-abandoned-cursor'),
      recoveryKey: serviceKeys.deriveSecret('shop-recovery-link'),
      publicUrl,
      paymentMs: config.lifetimes.paymentMs,
      now,
      log,
    });
    const shop = {
      clients: shopClients,
      tokens: new ShopTokens({ serviceKeys, clients: shopClients, now, cacheSize: config.tokenCacheSize }),
      recaptcha: new RecaptchaVerifiers(partners.all(), { verifyUrl: config.shop.recaptchaVerifyUrl }),
      shopStore: store.shop,
      checkout: shopCheckout,
      ...(opts.shopRoutes ? { extraCheckoutRoutes: opts.shopRoutes } : {}),
    };
    const appDeps = { config, store, baskets, partners, tokens, serviceKeys, guests, transfers, shopAdmin, log, publicUrl, events, metrics, shop, live, basketWebhooks, ...(rateLimits ? { rateLimits } : {}) };
    const checkout = new CheckoutService({
      store,
      baskets,
      psps,
      partner: partnerById,
      checkoutMs: config.lifetimes.checkoutMs,
      idempotencyMs: config.lifetimes.idempotencyMs,
      paymentMs: config.lifetimes.paymentMs,
      now,
      log,
      events,
    });
    const delivery = new OrderDelivery({ store, partner: partnerById, now, log });
    const analytics = new AnalyticsDelivery({ partner: partnerById, now, log });
    const outbox = new OutboxWorker({
      store,
      now,
      log,
      handlers: {
        [TOPIC_EXPIRE]: (payload) => checkout.expire(payload as ExpirePayload),
        [TOPIC_ORDER]: (payload) => delivery.handle(payload as OrderPayload),
        [TOPIC_PAYMENT_DEADLINE]: async (payload) => void (await checkout.paymentDeadline(payload as PaymentDeadlinePayload)),
        [TOPIC_ANALYTICS]: (payload, message) => analytics.handle(payload as AnalyticsPayload, message.key),
        [TOPIC_BASKET_CHANGED]: (payload, message) => basketWebhooks.deliverChanged(payload as BasketWebhookPayload, message),
        [TOPIC_BASKET_ABANDONED]: (payload, message) => basketWebhooks.deliverAbandoned(payload as BasketWebhookPayload, message),
        [TOPIC_SHOP_ORDER]: (payload, message) => shopCheckout.delivery.handle(payload as ShopOrderPayload, message),
        [TOPIC_SHOP_PAYMENT_DEADLINE]: (payload) => shopCheckout.orders.paymentDeadline(payload as ShopOrderPayload),
        [TOPIC_SUBSCRIPTION_CHANGE]: (payload) => shopCheckout.subscriptions.applyDue(payload as SubscriptionChangePayload),
      },
    });
    const app = await buildApp({ ...appDeps, checkout });
    const sweeper = config.runWorkers ? startSweeper(store, { everyMs: 60_000, batch: 500, now, log, eventsTtlMs: config.events.ttlMs }) : null;
    if (config.runWorkers) outbox.start();
    return {
      app,
      log,
      store,
      baskets,
      serviceKeys,
      sweeper,
      checkout,
      shopCheckout,
      outbox,
      events,
      publicUrl,
      metrics,
      feed,
      basketWebhooks,
      async listen() {
        const address = await app.listen({ host: config.host, port: config.port });
        publicUrl.bind(app.server.address());
        return address;
      },
      async close() {
        // A response to a request in flight leaves its keep-alive connection open and idle, and an idle connection
        // holds the server's close for the keep-alive timeout (72 s in Fastify): close idle ones as they appear.
        const reaper = setInterval(() => app.server.closeIdleConnections(), 50);
        try {
          // requests and background work drain together; the store they use closes last
          await Promise.all([app.close(), sweeper?.stop(), outbox.stop()]);
        } finally {
          clearInterval(reaper);
        }
        unrelay();
        feed.close();
        unlistenWebhooks();
        await basketWebhooks.settled();
        // the events of the last requests, before the store goes
        await events.close();
        rateLimits?.close();
        await rateLimitStore?.close();
        await store.close();
      },
    };
  } catch (err) {
    rateLimits?.close();
    await rateLimitStore?.close();
    await store.close();
    throw err;
  }
}
