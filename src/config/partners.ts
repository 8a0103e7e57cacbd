/**
 * Partners (PARTNERS_FILE / PARTNERS_JSON): their schema, their validation, and the development partner.
 */
import { Type, type Static } from 'typebox';
import { Value } from 'typebox/value';
import { partnerProblem } from '../partner-rules.js';
import { ConfigError, parseRate, RATE_EXPECTED } from './env-values.js';

const Str = Type.String({ minLength: 1 });

/** Partner JWT verification: exactly one source of key material. */
const PartnerJwtSchema = Type.Object(
  {
    secret: Type.Optional(Type.String({ minLength: 16 })),
    pem: Type.Optional(Str),
    jwk: Type.Optional(Type.Object({ kty: Str }, { additionalProperties: true })),
    jwksUrl: Type.Optional(Type.String({ pattern: '^https?://' })),
    algorithms: Type.Optional(Type.Array(Type.String({ pattern: '^(HS|RS|PS|ES)(256|384|512)$|^EdDSA$|^Ed25519$' }), { minItems: 1 })),
    issuer: Type.Optional(Str),
    audience: Type.Optional(Str),
    clockToleranceSec: Type.Optional(Type.Integer({ minimum: 0, maximum: 300 })),
  },
  { additionalProperties: false },
);

/** A rate as `<max>/<window>` (`600/1m`, `200000/10s`), or `0` for none; see parseRate. */
const RateString = Type.String({ pattern: '^\\s*\\d+\\s*(/\\s*\\d+\\s*(ms|s|m|h|d)?\\s*)?$' });

/** Per-partner overrides of the request-rate limits (RATE_LIMIT_PARTNER, RATE_LIMIT_USER). */
const PartnerRateLimitsSchema = Type.Object(
  {
    /** All requests made with the partner's API keys. */
    partner: Type.Optional(RateString),
    /** Each authenticated user of the partner. */
    user: Type.Optional(RateString),
  },
  { additionalProperties: false },
);

const ShippingSchema = Type.Object(
  {
    flatFee: Type.Integer({ minimum: 0 }),
    freeFrom: Type.Optional(Type.Union([Type.Integer({ minimum: 0 }), Type.Null()])),
  },
  { additionalProperties: false },
);

/** The scopes a shop client may hold (shop-api.md §1: every checkout operation needs `checkout`). */
const ShopScopeSchema = Type.Union([Type.Literal('checkout')]);

/** An OAuth client of the shop surface (shop-api.md §4): secret plain (16+ characters) or `sha256:<64 hex>`. */
const ShopClientSchema = Type.Object(
  {
    id: Type.String({ pattern: '^[A-Za-z0-9._~-]{1,128}$' }),
    secret: Type.String({ minLength: 16, maxLength: 512 }),
    scopes: Type.Array(ShopScopeSchema, { minItems: 1 }),
  },
  { additionalProperties: false },
);

/** Google reCAPTCHA siteverify with the partner's secret; or the development verifier (not in production). */
const ShopRecaptchaSchema = Type.Union([
  Type.Object(
    {
      secret: Type.String({ minLength: 8 }),
      /** reCAPTCHA v3: answers scoring below this are rejected (default 0.5). */
      minScore: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
    },
    { additionalProperties: false },
  ),
  Type.Object({ development: Type.Literal(true) }, { additionalProperties: false }),
]);

/** The shop surface of a partner (shop-api.md §4). */
const PartnerShopSchema = Type.Object(
  {
    clients: Type.Array(ShopClientSchema, { minItems: 1 }),
    /** The partner's shop: recovery links redirect there, and its origin may call the shop API from a browser. */
    url: Type.String({ pattern: '^https?://' }),
    recaptcha: ShopRecaptchaSchema,
  },
  { additionalProperties: false },
);

export const PartnerSchema = Type.Object(
  {
    id: Type.String({ pattern: '^[A-Za-z0-9._-]{1,64}$' }),
    name: Type.Optional(Str),
    /** Plain keys, or `sha256:<hex>` of a key so that the file holds no secret. */
    apiKeys: Type.Array(Type.String({ minLength: 8 }), { minItems: 1 }),
    jwt: PartnerJwtSchema,
    /** Name put into transfer URLs as `jaySource`. */
    source: Type.Optional(Str),
    /** CORS origins; `*` allows any. */
    allowedOrigins: Type.Optional(Type.Array(Str)),
    /** Default URL a transferred basket lands on. */
    landingUrl: Type.Optional(Type.String({ pattern: '^https?://' })),
    /** Hosts a transfer URL may point at (exact host, or `*.example.com`). Empty or absent: any host. */
    transferHosts: Type.Optional(Type.Array(Str)),
    /** The partner's shop, linked from the landing page. */
    shopUrl: Type.Optional(Type.String({ pattern: '^https?://' })),
    shipping: Type.Optional(ShippingSchema),
    /** Payment providers the partner may use; the first is the default. */
    psps: Type.Optional(Type.Array(Str)),
    orderWebhookUrl: Type.Optional(Type.String({ pattern: '^https?://' })),
    orderWebhookSecret: Type.Optional(Type.String({ minLength: 16 })),
    /** Where batches of the partner's tracking events are POSTed (signed with analyticsWebhookSecret). */
    analyticsWebhookUrl: Type.Optional(Type.String({ pattern: '^https?://' })),
    analyticsWebhookSecret: Type.Optional(Type.String({ minLength: 16 })),
    /** Where `basket.changed` and `basket.abandoned` deliveries are POSTed (signed with basketWebhookSecret). */
    basketWebhookUrl: Type.Optional(Type.String({ pattern: '^https?://' })),
    basketWebhookSecret: Type.Optional(Type.String({ minLength: 16 })),
    stripe: Type.Optional(
      Type.Object(
        {
          secretKey: Str,
          publishableKey: Str,
          webhookSecret: Type.Optional(Str),
          testMode: Type.Optional(Type.Boolean()),
        },
        { additionalProperties: false },
      ),
    ),
    rateLimits: Type.Optional(PartnerRateLimitsSchema),
    /** The shop surface (OAuth clients, shop URL, reCAPTCHA); absent: the partner has no shop clients. */
    shop: Type.Optional(PartnerShopSchema),
  },
  { additionalProperties: false },
);

export type PartnerShopConfig = Static<typeof PartnerShopSchema>;
export type ShopClientConfig = Static<typeof ShopClientSchema>;
export type PartnerConfig = Static<typeof PartnerSchema>;
export type PartnerJwtConfig = Static<typeof PartnerJwtSchema>;

export const DEV_PARTNER: PartnerConfig = {
  id: 'demo',
  name: 'Demo partner (development only)',
  apiKeys: ['dev-api-key'],
  jwt: { secret: 'dev-secret-change-me-0123456789', algorithms: ['HS256'], issuer: 'demo-partner', audience: 'basket' },
  source: 'demo-tv',
  allowedOrigins: ['*'],
  landingUrl: 'http://127.0.0.1:8080/landing',
  shopUrl: 'https://shop.example.com/',
  transferHosts: [],
  shipping: { flatFee: 495, freeFrom: 5000 },
  psps: ['sandbox'],
};

export const DEV_ADMIN_KEY = 'dev-admin-key';

/** The development partner's shop client (shop-api.md §4). */
export const DEV_SHOP_CLIENT: ShopClientConfig = { id: 'dev-shop-client', secret: 'dev-shop-secret-0123456789', scopes: ['checkout'] };
/** Path of the demo shop page this service serves for the development partner (its shop URL). */
export const DEV_SHOP_PATH = '/demo/shop';
export const GOOGLE_RECAPTCHA_VERIFY_URL = 'https://www.google.com/recaptcha/api/siteverify';

/** Validates a partners list (from PARTNERS_FILE or PARTNERS_JSON); `source` names the variable in errors. */
export function parsePartners(text: string, source: string): PartnerConfig[] {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`${source} is not valid JSON: ${(err as Error).message}`);
  }
  const list = Type.Array(PartnerSchema);
  if (!Value.Check(list, json)) {
    const first = Value.Errors(list, json)[0];
    const where = first ? `${first.instancePath || '/'}: ${first.message}` : 'invalid';
    throw new ConfigError(`${source} is invalid at ${where}`);
  }
  const partners = json as PartnerConfig[];
  const ids = new Set<string>();
  const keys = new Set<string>();
  const shopClients = new Set<string>();
  for (const [i, p] of partners.entries()) {
    if (ids.has(p.id)) throw new ConfigError(`${source} is invalid at /${i}/id: duplicate partner id ${p.id}`);
    ids.add(p.id);
    const sources = [p.jwt.secret, p.jwt.pem, p.jwt.jwk, p.jwt.jwksUrl].filter((s) => s !== undefined).length;
    if (sources !== 1) {
      throw new ConfigError(`${source} is invalid at /${i}/jwt: give exactly one of secret, pem, jwk, jwksUrl`);
    }
    if (p.jwt.secret !== undefined && p.jwt.algorithms?.some((a) => !a.startsWith('HS'))) {
      throw new ConfigError(`${source} is invalid at /${i}/jwt/algorithms: a shared secret allows only HS256/HS384/HS512`);
    }
    if (p.jwt.secret === undefined && p.jwt.algorithms?.some((a) => a.startsWith('HS'))) {
      throw new ConfigError(`${source} is invalid at /${i}/jwt/algorithms: HS algorithms need a shared secret, not a public key`);
    }
    if (p.orderWebhookUrl !== undefined && p.orderWebhookSecret === undefined) {
      throw new ConfigError(`${source} is invalid at /${i}/orderWebhookSecret: an orderWebhookUrl needs a secret to sign deliveries`);
    }
    if (p.basketWebhookUrl !== undefined && p.basketWebhookSecret === undefined) {
      throw new ConfigError(`${source} is invalid at /${i}/basketWebhookSecret: a basketWebhookUrl needs a secret to sign deliveries`);
    }
    if (p.analyticsWebhookUrl !== undefined && p.analyticsWebhookSecret === undefined) {
      throw new ConfigError(`${source} is invalid at /${i}/analyticsWebhookSecret: an analyticsWebhookUrl needs a secret to sign deliveries`);
    }
    for (const [name, value] of Object.entries(p.rateLimits ?? {})) {
      if (parseRate(value) === null) throw new ConfigError(`${source} is invalid at /${i}/rateLimits/${name}: expected ${RATE_EXPECTED}`);
    }
    for (const k of p.apiKeys) {
      if (keys.has(k)) throw new ConfigError(`${source} is invalid at /${i}/apiKeys: API key used by two partners`);
      keys.add(k);
    }
    for (const [j, client] of (p.shop?.clients ?? []).entries()) {
      // a token names its client by id alone: one id, one partner
      if (shopClients.has(client.id)) throw new ConfigError(`${source} is invalid at /${i}/shop/clients/${j}/id: shop client id ${client.id} is used twice`);
      shopClients.add(client.id);
    }
    const problem = partnerProblem(p);
    if (problem) throw new ConfigError(`${source} is invalid at /${i}${problem.path}: ${problem.message}`);
  }
  return partners;
}
