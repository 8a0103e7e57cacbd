/**
 * Every setting comes from environment variables (and an optional partners file), validated once at start.
 * A bad value throws ConfigError naming the variable; main.ts prints that one line and exits.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  ConfigError,
  parseDuration,
  parseRate,
  readBool,
  readDuration,
  readInt,
  readRate,
  readString,
  type Env,
  type Rate,
} from './config/env-values.js';
import { DEV_ADMIN_KEY, DEV_PARTNER, DEV_SHOP_CLIENT, DEV_SHOP_PATH, GOOGLE_RECAPTCHA_VERIFY_URL, parsePartners, type PartnerConfig } from './config/partners.js';

// the modules' names, as before the split
export { ConfigError, MAX_RATE, parseDuration, parseRate, type Rate } from './config/env-values.js';
export {
  DEV_ADMIN_KEY,
  DEV_PARTNER,
  DEV_SHOP_CLIENT,
  DEV_SHOP_PATH,
  GOOGLE_RECAPTCHA_VERIFY_URL,
  PartnerSchema,
  parsePartners,
  type PartnerConfig,
  type PartnerJwtConfig,
  type PartnerShopConfig,
  type ShopClientConfig,
} from './config/partners.js';

export interface Limits {
  maxCartLines: number;
  maxLineCount: number;
  bodyLimit: number;
}

/** The HTTP edge (issue 17): how many connections, and how long a client may take. */
export interface EdgeLimits {
  /** Open connections per process (MAX_CONNECTIONS); near it, idle and slow connections are shed. */
  maxConnections: number;
  /** Open connections per client address (MAX_CONNECTIONS_PER_IP); 0 = no per-address limit. */
  maxConnectionsPerIp: number;
  /** A whole request, body included (REQUEST_TIMEOUT): 408 beyond. */
  requestTimeoutMs: number;
  /** A request's headers, counted from the connection's first byte or its previous request (HEADERS_TIMEOUT). */
  headersTimeoutMs: number;
  /** An idle keep-alive connection between requests (KEEP_ALIVE_TIMEOUT). */
  keepAliveTimeoutMs: number;
}

/** The request-rate limits (issue 17); defaults in loadConfig, documented in README.md. */
export interface RateLimits {
  /** All requests with one partner's API keys (RATE_LIMIT_PARTNER); a partner's `rateLimits.partner` overrides it. */
  partner: Rate;
  /** Each authenticated user, counted after authentication (RATE_LIMIT_USER); `rateLimits.user` overrides it. */
  user: Rate;
  /** Guest creation per client address (RATE_LIMIT_GUEST_IP). */
  guestIp: Rate;
  /** Transfer redemption, landing page and QR image per client address (RATE_LIMIT_REDEEM_IP). */
  redeemIp: Rate;
  /** Other routes without an API key per client address (RATE_LIMIT_PUBLIC_IP). */
  publicIp: Rate;
  /** Failed authentications per client address; beyond, 429 on authenticated routes (RATE_LIMIT_AUTH_FAILURES_IP). */
  authFailuresIp: Rate;
}

export interface Lifetimes {
  basketMs: number;
  guestMs: number;
  transferMs: number;
  checkoutMs: number;
  idempotencyMs: number;
  /**
   * How long an order finished as ordered waits for its PSP's payment confirmation (Stripe's webhook) before
   * the payment is cancelled and the order's stock returned. At most 7 days: the reservation it returns is kept
   * 30 days (RESERVATION_RETENTION_MS).
   */
  paymentMs: number;
}

/** The live change stream (issue 22). */
export interface LiveSettings {
  /** Open streams per process (LIVE_MAX_STREAMS): beyond, 503 `3005`. */
  maxStreams: number;
  /** Open streams per user and process (LIVE_MAX_STREAMS_PER_USER): beyond, 429 `2025`. */
  maxStreamsPerUser: number;
  /** A comment line on every idle stream this often (LIVE_HEARTBEAT), so proxies and clients see it alive. */
  heartbeatMs: number;
  /** How long a stream ticket (EventSource in browsers, the landing page) opens streams (LIVE_TICKET_TTL). */
  ticketMs: number;
}

/** Basket webhooks (issue 22). */
export interface BasketWebhookSettings {
  /** `basket.changed`: changes within one window of this length are one delivery (BASKET_WEBHOOK_WINDOW). */
  windowMs: number;
  /** `basket.abandoned` after this long without a change (BASKET_ABANDONED_AFTER); 0 = never. */
  abandonedMs: number;
  /** How long the recovery link of a `basket.abandoned` delivery works (BASKET_RECOVERY_TTL). */
  recoveryMs: number;
}

export interface Config {
  host: string;
  port: number;
  storeUrl: string;
  dataDir: string;
  logLevel: string;
  /** Log every request (off by default: it costs a third of the hot path's throughput). */
  logRequests: boolean;
  workers: number;
  /**
   * Public base URL of this service (OpenAPI server, QR image URLs, landing page); default http://host:port.
   * Without PUBLIC_URL the server replaces it by the address it bound (PORT=0: the port is known only then).
   */
  publicUrl: string;
  /** PUBLIC_URL was given: publicUrl is fixed, whatever address the server binds. */
  publicUrlSet: boolean;
  /** SHUTDOWN_TIMEOUT: how long SIGTERM waits for requests and background work before the process exits anyway. */
  shutdownMs: number;
  adminKey: string | null;
  /** METRICS_TOKEN: the bearer token `GET /metrics` asks for; null = /metrics is open. */
  metricsToken: string | null;
  partners: PartnerConfig[];
  /** True when the built-in development partner is on (README walk-through). */
  devPartner: boolean;
  limits: Limits;
  edge: EdgeLimits;
  rateLimits: RateLimits;
  lifetimes: Lifetimes;
  tokenCacheSize: number;
  /** How long add-to-basket may reuse a catalogue hit (PRODUCT_CACHE_TTL); 0 = read the store every time. */
  productCacheMs: number;
  /** Service signing keys (guest JWTs): JSON JWK set with private keys; null = generated in dataDir. */
  serviceKeys: string | null;
  serviceIssuer: string;
  trustProxy: boolean;
  /** Run background workers (sweeper, outbox) in this process. */
  runWorkers: boolean;
  /** Connections per process in the PostgreSQL pool (PG_POOL_SIZE). */
  pgPoolSize: number;
  /** Deadline of every store call (STORE_TIMEOUT): a store that does not answer within it is unavailable (503). */
  storeTimeoutMs: number;
  /** Tracking events (issue 23). */
  events: {
    /** EVENTS_TTL: events older than this are purged by the sweeper. */
    ttlMs: number;
    /** EVENTS_SECRET: key of the user pseudonyms; null = derived from the service's signing key. */
    secret: string | null;
  };
  /** The live change stream (issue 22): `GET /v2/baskets/users/{userId}/events`. */
  live: LiveSettings;
  /** Basket webhooks (issue 22): `basket.changed` and `basket.abandoned`. */
  basketWebhooks: BasketWebhookSettings;
  /** Payment providers (issue 4). */
  psp: {
    /** SANDBOX_PSP_DECLINE: the sandbox PSP declines every payment (tests, demos of the failure path). */
    sandboxDecline: boolean;
    /** STRIPE_API_BASE: another Stripe API base URL (a local stand-in in tests); null = Stripe's. */
    stripeApiBase: string | null;
  };
  /** The shop surface (shop-api.md). */
  shop: {
    /** RECAPTCHA_VERIFY_URL: another siteverify URL (a local stand-in in tests); default Google's. */
    recaptchaVerifyUrl: string;
  };
}

/** The soft limit of open files of this process (Linux /proc), or null where it cannot be read. */
export function openFileLimit(): number | null {
  try {
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    return m && m[1] !== 'unlimited' ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/**
 * MAX_CONNECTIONS' default: 2048, which at the worst (every connection holding a body just under BODY_LIMIT's
 * 16 KiB) stays near half of `npm start`'s 128 MB heap; lower when the open-file limit leaves less room (a
 * quarter of the files kept for the store, logs and the rest).
 */
export function defaultMaxConnections(fileLimit: number | null = openFileLimit()): number {
  if (fileLimit === null) return 2048;
  return Math.max(64, Math.min(2048, Math.floor(fileLimit * 0.75)));
}

function readEdge(env: Env, trustProxy: boolean): EdgeLimits {
  const maxConnections = readInt(env, 'MAX_CONNECTIONS', defaultMaxConnections(), 16, 1_000_000);
  // behind a proxy every connection comes from the proxy's address: no per-address limit unless asked for
  const maxConnectionsPerIp = readInt(env, 'MAX_CONNECTIONS_PER_IP', trustProxy ? 0 : Math.max(16, Math.floor(maxConnections / 4)), 0, 1_000_000);
  const requestTimeoutMs = readDuration(env, 'REQUEST_TIMEOUT', '10s', 1000, 600_000);
  const headersTimeoutMs = readDuration(env, 'HEADERS_TIMEOUT', `${Math.min(5000, requestTimeoutMs)}ms`, 500, 600_000);
  if (headersTimeoutMs > requestTimeoutMs) {
    throw new ConfigError(`HEADERS_TIMEOUT=${JSON.stringify(env.HEADERS_TIMEOUT)} is invalid: it must not exceed REQUEST_TIMEOUT (${requestTimeoutMs} ms)`);
  }
  const keepAliveTimeoutMs = readDuration(env, 'KEEP_ALIVE_TIMEOUT', '5s', 100, 600_000);
  return { maxConnections, maxConnectionsPerIp, requestTimeoutMs, headersTimeoutMs, keepAliveTimeoutMs };
}

/** EVENTS_SECRET: at least 32 characters; the error names the variable, never the value. */
function readEventsSecret(env: Env): string | null {
  const raw = env.EVENTS_SECRET;
  if (raw === undefined || raw === '') return null;
  if (raw.length < 32) throw new ConfigError('EVENTS_SECRET is invalid: use at least 32 characters');
  return raw;
}

/** The URL of this service on `host`:`port` when no PUBLIC_URL is given (a wildcard address is reached on loopback). */
export function localBaseUrl(host: string, port: number): string {
  const reachable = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
  return `http://${reachable.includes(':') ? `[${reachable}]` : reachable}:${port}`;
}

/** PG_POOL_SIZE: connections per process in the PostgreSQL pool (default 10). */
export function readPgPoolSize(env: Env): number {
  return readInt(env, 'PG_POOL_SIZE', 10, 1, 1000);
}

/** STORE_TIMEOUT: how long a store call may take before the store counts as unavailable (default 1s). */
export function readStoreTimeout(env: Env): number {
  return readDuration(env, 'STORE_TIMEOUT', '1s', 100, 60_000);
}

export function loadConfig(env: Env = process.env, cwd: string = process.cwd()): Config {
  const production = env.NODE_ENV === 'production';
  const host = readString(env, 'HOST', '127.0.0.1');
  const port = readInt(env, 'PORT', 8080, 0, 65535);
  const dataDir = path.resolve(cwd, readString(env, 'DATA_DIR', './data'));
  const storeUrl = readString(
    env,
    'STORE_URL',
    `sqlite:${path.join(dataDir, 'basket.db')}`,
    /^(sqlite:|postgres(ql)?:\/\/|rediss?:\/\/|redis-cluster:\/\/)/,
    'sqlite:<file>, postgres://..., redis://... or redis-cluster://host:port,host:port',
  );
  const logLevel = readString(env, 'LOG_LEVEL', 'info', /^(fatal|error|warn|info|debug|trace|silent)$/, 'fatal, error, warn, info, debug, trace or silent');

  let partners: PartnerConfig[] = [];
  if (env.PARTNERS_FILE && env.PARTNERS_JSON) {
    throw new ConfigError('PARTNERS_FILE and PARTNERS_JSON are both set: give the partners in only one of them');
  }
  if (env.PARTNERS_FILE) {
    let text: string;
    try {
      text = readFileSync(path.resolve(cwd, env.PARTNERS_FILE), 'utf8');
    } catch (err) {
      throw new ConfigError(`PARTNERS_FILE=${JSON.stringify(env.PARTNERS_FILE)} cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    partners = parsePartners(text, 'PARTNERS_FILE');
  } else if (env.PARTNERS_JSON) {
    partners = parsePartners(env.PARTNERS_JSON, 'PARTNERS_JSON');
  }
  const publicUrlSet = env.PUBLIC_URL !== undefined && env.PUBLIC_URL !== '';
  const publicUrl = readString(env, 'PUBLIC_URL', localBaseUrl(host, port), /^https?:\/\/[^/]+/, 'an http(s) URL').replace(/\/+$/, '');
  const devPartner = readBool(env, 'DEV_PARTNER', !production && partners.length === 0);
  // its API key, JWT secret, shop client secret and admin key are in the README
  if (devPartner && production) throw new ConfigError('DEV_PARTNER=true is refused with NODE_ENV=production: the development partner\'s keys and admin key are public');
  if (devPartner) {
    if (partners.some((p) => p.id === DEV_PARTNER.id)) throw new ConfigError(`DEV_PARTNER=true but a configured partner already has the id ${DEV_PARTNER.id}`);
    // its landing page is this service's own (createServer keeps it on the bound address when PUBLIC_URL is unset)
    partners = [
      ...partners,
      {
        ...DEV_PARTNER,
        landingUrl: `${publicUrl}/landing`,
        // its shop is the demo page this service serves (createServer keeps it on the bound address too)
        shop: { clients: [{ ...DEV_SHOP_CLIENT, scopes: [...DEV_SHOP_CLIENT.scopes] }], url: `${publicUrl}${DEV_SHOP_PATH}`, recaptcha: { development: true } },
      },
    ];
    if (partners.some((p) => p.id !== DEV_PARTNER.id && p.shop?.clients.some((c) => c.id === DEV_SHOP_CLIENT.id))) {
      throw new ConfigError(`DEV_PARTNER=true but a configured partner already has the shop client id ${DEV_SHOP_CLIENT.id}`);
    }
  }
  if (production) {
    const dev = partners.findIndex((p) => p.shop?.recaptcha !== undefined && 'development' in p.shop.recaptcha);
    if (dev !== -1) {
      throw new ConfigError(`partner ${partners[dev]!.id}: shop.recaptcha.development accepts every token; it is refused with NODE_ENV=production (give shop.recaptcha.secret)`);
    }
  }
  if (partners.length === 0) throw new ConfigError('PARTNERS_FILE is not set: no partner is configured (set PARTNERS_FILE, PARTNERS_JSON or DEV_PARTNER=true)');

  const serviceIssuer = readString(env, 'SERVICE_ISSUER', 'basket');
  const clash = partners.find((p) => p.jwt.issuer === serviceIssuer);
  if (clash) throw new ConfigError(`SERVICE_ISSUER=${JSON.stringify(serviceIssuer)} equals the jwt.issuer of partner ${clash.id}: guest and partner tokens must differ in iss`);

  const adminKeyRaw = env.ADMIN_KEY;
  if (adminKeyRaw !== undefined && adminKeyRaw !== '' && adminKeyRaw.length < 12) {
    throw new ConfigError('ADMIN_KEY is invalid: use at least 12 characters');
  }
  const adminKey = adminKeyRaw ? adminKeyRaw : devPartner ? DEV_ADMIN_KEY : null;
  const metricsToken = env.METRICS_TOKEN ? env.METRICS_TOKEN : null;
  // sent as `Authorization: Bearer <token>`: the characters of an RFC 6750 token, long enough not to be guessed
  if (metricsToken !== null && !/^[A-Za-z0-9\-._~+/]{16,}=*$/.test(metricsToken)) {
    throw new ConfigError('METRICS_TOKEN is invalid: use at least 16 characters of A-Z a-z 0-9 - . _ ~ + / (e.g. openssl rand -hex 24)');
  }

  const trustProxy = readBool(env, 'TRUST_PROXY', false);

  return {
    host,
    port,
    storeUrl,
    dataDir,
    logLevel,
    logRequests: readBool(env, 'LOG_REQUESTS', false),
    workers: readInt(env, 'WORKERS', 1, 1, 64),
    publicUrl,
    publicUrlSet,
    shutdownMs: readDuration(env, 'SHUTDOWN_TIMEOUT', '10s', 1000, 3_600_000),
    adminKey,
    metricsToken,
    partners,
    devPartner,
    limits: {
      maxCartLines: readInt(env, 'CART_MAX_LINES', 20, 1, 1000),
      maxLineCount: readInt(env, 'LINE_MAX_COUNT', 99, 1, 1_000_000),
      bodyLimit: readInt(env, 'BODY_LIMIT', 16_384, 1024, 10 * 1024 * 1024),
    },
    edge: readEdge(env, trustProxy),
    rateLimits: {
      partner: readRate(env, 'RATE_LIMIT_PARTNER', '200000/10s'),
      user: readRate(env, 'RATE_LIMIT_USER', '600/1m'),
      guestIp: readRate(env, 'RATE_LIMIT_GUEST_IP', '30/1m'),
      redeemIp: readRate(env, 'RATE_LIMIT_REDEEM_IP', '60/1m'),
      publicIp: readRate(env, 'RATE_LIMIT_PUBLIC_IP', '300/1m'),
      authFailuresIp: readRate(env, 'RATE_LIMIT_AUTH_FAILURES_IP', '30/10m'),
    },
    lifetimes: {
      basketMs: readDuration(env, 'BASKET_TTL', '30d', 60_000),
      guestMs: readDuration(env, 'GUEST_TTL', '30d', 60_000),
      transferMs: readDuration(env, 'TRANSFER_TTL', '60s', 1000),
      checkoutMs: readDuration(env, 'CHECKOUT_TTL', '30m', 1000),
      idempotencyMs: readDuration(env, 'IDEMPOTENCY_TTL', '24h', 1000),
      paymentMs: readDuration(env, 'PAYMENT_TTL', '24h', 60_000, 7 * 86_400_000),
    },
    tokenCacheSize: readInt(env, 'TOKEN_CACHE_SIZE', 10_000, 0, 10_000_000),
    productCacheMs: readDuration(env, 'PRODUCT_CACHE_TTL', '1s', 0),
    serviceKeys: env.SERVICE_KEYS ? env.SERVICE_KEYS : null,
    serviceIssuer,
    trustProxy,
    runWorkers: readBool(env, 'RUN_WORKERS', true),
    pgPoolSize: readPgPoolSize(env),
    storeTimeoutMs: readStoreTimeout(env),
    events: {
      ttlMs: readDuration(env, 'EVENTS_TTL', '90d', 3_600_000),
      secret: readEventsSecret(env),
    },
    live: {
      maxStreams: readInt(env, 'LIVE_MAX_STREAMS', 10_000, 0, 1_000_000),
      maxStreamsPerUser: readInt(env, 'LIVE_MAX_STREAMS_PER_USER', 5, 1, 1000),
      heartbeatMs: readDuration(env, 'LIVE_HEARTBEAT', '15s', 50, 3_600_000),
      ticketMs: readDuration(env, 'LIVE_TICKET_TTL', '1h', 1000, 7 * 86_400_000),
    },
    basketWebhooks: {
      windowMs: readDuration(env, 'BASKET_WEBHOOK_WINDOW', '10s', 100, 3_600_000),
      abandonedMs: env.BASKET_ABANDONED_AFTER?.trim() === '0' ? 0 : readDuration(env, 'BASKET_ABANDONED_AFTER', '1h', 1000, 90 * 86_400_000),
      recoveryMs: readDuration(env, 'BASKET_RECOVERY_TTL', '7d', 60_000, 30 * 86_400_000),
    },
    psp: {
      sandboxDecline: readBool(env, 'SANDBOX_PSP_DECLINE', false),
      stripeApiBase: env.STRIPE_API_BASE ? readString(env, 'STRIPE_API_BASE', '', /^https?:\/\/[^/]+\/?$/, 'an http(s) base URL such as http://127.0.0.1:12111') : null,
    },
    shop: {
      recaptchaVerifyUrl: readString(env, 'RECAPTCHA_VERIFY_URL', GOOGLE_RECAPTCHA_VERIFY_URL, /^https?:\/\/[^/\s]+(\/\S*)?$/, 'an http(s) URL such as http://127.0.0.1:9999/siteverify'),
    },
  };
}
