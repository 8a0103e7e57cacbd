import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ConfigError, defaultMaxConnections, loadConfig, localBaseUrl, parseDuration, parseRate } from '../src/config.js';

const partner = { id: 'p1', apiKeys: ['key-0000001'], jwt: { secret: 'a-secret-of-16-chars!' } };

function configError(env: Record<string, string>): string {
  try {
    loadConfig(env, '/tmp');
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.message;
  }
  assert.fail(`expected a ConfigError for ${JSON.stringify(env)}`);
}

describe('configuration', () => {
  it('has working defaults for development', () => {
    const c = loadConfig({}, '/srv/app');
    assert.equal(c.port, 8080);
    assert.equal(c.host, '127.0.0.1');
    assert.equal(c.storeUrl, 'sqlite:/srv/app/data/basket.db');
    assert.equal(c.devPartner, true);
    assert.deepEqual(c.partners.map((p) => p.id), ['demo']);
    assert.equal(c.limits.maxCartLines, 20);
    assert.equal(c.limits.maxLineCount, 99);
    assert.equal(c.lifetimes.basketMs, 30 * 86_400_000);
    assert.equal(c.lifetimes.transferMs, 60_000);
    assert.equal(c.lifetimes.paymentMs, 86_400_000);
    assert.equal(loadConfig({ PAYMENT_TTL: '7d' }, '/srv/app').lifetimes.paymentMs, 7 * 86_400_000);
    assert.equal(c.productCacheMs, 1000);
    assert.equal(loadConfig({ PRODUCT_CACHE_TTL: '0s' }, '/srv/app').productCacheMs, 0);
    assert.equal(c.storeTimeoutMs, 1000);
    assert.equal(loadConfig({ STORE_TIMEOUT: '250ms' }, '/srv/app').storeTimeoutMs, 250);
    assert.equal(c.metricsToken, null);
    assert.equal(loadConfig({ METRICS_TOKEN: '' }, '/srv/app').metricsToken, null);
    assert.equal(loadConfig({ METRICS_TOKEN: 'c2NyYXBlLXRva2VuLTAxMjM0NTY3ODk=' }, '/srv/app').metricsToken, 'c2NyYXBlLXRva2VuLTAxMjM0NTY3ODk=');
  });

  it('turns the dev partner off in production and then needs partners', () => {
    assert.match(configError({ NODE_ENV: 'production' }), /PARTNERS_FILE/);
    const c = loadConfig({ NODE_ENV: 'production', PARTNERS_JSON: JSON.stringify([partner]) }, '/tmp');
    assert.equal(c.devPartner, false);
    assert.equal(c.adminKey, null, 'no default admin key outside development');
    // asked for by name, it is refused: its keys (and the default admin key with it) are public
    assert.match(configError({ NODE_ENV: 'production', DEV_PARTNER: 'true' }), /^DEV_PARTNER=true is refused with NODE_ENV=production/);
    assert.match(configError({ NODE_ENV: 'production', DEV_PARTNER: 'true', PARTNERS_JSON: JSON.stringify([partner]) }), /^DEV_PARTNER=true is refused/);
  });

  it('names the variable of a bad value', () => {
    const cases: [Record<string, string>, RegExp][] = [
      [{ PORT: 'abc' }, /^PORT=/],
      [{ PORT: '70000' }, /^PORT=/],
      [{ CART_MAX_LINES: '0' }, /^CART_MAX_LINES=/],
      [{ LINE_MAX_COUNT: '1.5' }, /^LINE_MAX_COUNT=/],
      [{ BODY_LIMIT: '10' }, /^BODY_LIMIT=/],
      [{ BASKET_TTL: 'forever' }, /^BASKET_TTL=/],
      [{ TRANSFER_TTL: '0s' }, /^TRANSFER_TTL=/],
      [{ PRODUCT_CACHE_TTL: '-1s' }, /^PRODUCT_CACHE_TTL=/],
      [{ PAYMENT_TTL: '8d' }, /^PAYMENT_TTL="8d" is invalid: .*60000 to 604800000 ms/],
      [{ PAYMENT_TTL: '30s' }, /^PAYMENT_TTL=/],
      [{ STORE_TIMEOUT: '50ms' }, /^STORE_TIMEOUT="50ms" is invalid: .*100 to 60000 ms/],
      [{ STORE_TIMEOUT: '2m' }, /^STORE_TIMEOUT=/],
      [{ STORE_URL: 'mysql://x' }, /^STORE_URL=/],
      [{ LOG_LEVEL: 'loud' }, /^LOG_LEVEL=/],
      [{ DEV_PARTNER: 'maybe' }, /^DEV_PARTNER=/],
      [{ ADMIN_KEY: 'short' }, /^ADMIN_KEY/],
      [{ METRICS_TOKEN: 'too-short-0123' }, /^METRICS_TOKEN is invalid: use at least 16 characters/],
      [{ METRICS_TOKEN: 'has a space in it 0123456789' }, /^METRICS_TOKEN is invalid/],
      [{ METRICS_TOKEN: 'quote"d-0123456789abcdef' }, /^METRICS_TOKEN is invalid/],
      [{ PUBLIC_URL: 'ftp://x' }, /^PUBLIC_URL=/],
      [{ PARTNERS_JSON: '{not json' }, /^PARTNERS_JSON is not valid JSON/],
      [{ PARTNERS_FILE: '/nonexistent/partners.json' }, /^PARTNERS_FILE=.*cannot be read/],
      [{ SHUTDOWN_TIMEOUT: '0s' }, /^SHUTDOWN_TIMEOUT=/],
      [{ SHUTDOWN_TIMEOUT: 'soon' }, /^SHUTDOWN_TIMEOUT=/],
    ];
    for (const [env, re] of cases) assert.match(configError(env), re, JSON.stringify(env));
  });

  it('validates partners and says where', () => {
    const bad: [unknown, RegExp][] = [
      [[{ ...partner, apiKeys: [] }], /\/0\/apiKeys/],
      [[{ ...partner, jwt: {} }], /\/0\/jwt: give exactly one/],
      [[{ ...partner, jwt: { secret: 'a-secret-of-16-chars!', pem: 'x' } }], /exactly one/],
      [[{ ...partner, jwt: { secret: 'a-secret-of-16-chars!', algorithms: ['RS256'] } }], /shared secret allows only HS/],
      [[{ ...partner, jwt: { pem: 'x', algorithms: ['HS256'] } }], /HS algorithms need a shared secret/],
      [[partner, { ...partner }], /duplicate partner id/],
      [[partner, { ...partner, id: 'p2' }], /API key used by two partners/],
      [[{ ...partner, unknownField: 1 }], /PARTNERS_JSON is invalid/],
      [[{ ...partner, jwt: { secret: 'a-secret-of-16-chars!', issuer: 'basket' } }], /SERVICE_ISSUER/],
    ];
    for (const [list, re] of bad) assert.match(configError({ PARTNERS_JSON: JSON.stringify(list) }), re, JSON.stringify(list));
  });

  it('stops the start on partner settings that would only fail later, naming the field', () => {
    const stripe = { secretKey: 'sk_test_51Abc', publishableKey: 'pk_test_51Abc', webhookSecret: 'whsec_0123456789' };
    const bad: [unknown, string][] = [
      [{ ...partner, psps: ['strpe'] }, 'PARTNERS_JSON is invalid at /0/psps/0: unknown payment provider "strpe" (known: sandbox, stripe)'],
      [{ ...partner, psps: ['sandbox', 'adyen'] }, 'PARTNERS_JSON is invalid at /0/psps/1: unknown payment provider "adyen" (known: sandbox, stripe)'],
      [{ ...partner, psps: [] }, 'PARTNERS_JSON is invalid at /0/psps: is empty: name at least one payment provider, or leave psps out (sandbox)'],
      [
        { ...partner, psps: ['stripe'] },
        'PARTNERS_JSON is invalid at /0/stripe: payment provider "stripe" is enabled in psps but stripe.secretKey and stripe.publishableKey are not set',
      ],
      [{ ...partner, psps: ['stripe'], stripe: { secretKey: 'sk_test_51Abc' } }, 'PARTNERS_JSON is invalid at /0/stripe: must have required properties publishableKey'],
      [{ ...partner, psps: ['stripe'], stripe: { ...stripe, secretKey: 'pk_test_51Abc' } }, 'PARTNERS_JSON is invalid at /0/stripe/secretKey: is not a Stripe secret key'],
      [{ ...partner, psps: ['stripe'], stripe: { ...stripe, publishableKey: 'sk_test_51Abc' } }, 'PARTNERS_JSON is invalid at /0/stripe/publishableKey: is not a Stripe publishable key'],
      [{ ...partner, psps: ['stripe'], stripe: { ...stripe, publishableKey: 'pk_live_51Abc' } }, 'PARTNERS_JSON is invalid at /0/stripe/publishableKey: is a live key but stripe.secretKey is a test key'],
      [{ ...partner, psps: ['stripe'], stripe: { ...stripe, testMode: false } }, 'PARTNERS_JSON is invalid at /0/stripe/testMode: is false but stripe.secretKey is a test key'],
      [{ ...partner, psps: ['stripe'], stripe: { ...stripe, webhookSecret: 'sk_test_51Abc' } }, 'PARTNERS_JSON is invalid at /0/stripe/webhookSecret: is not a Stripe webhook signing secret'],
      [{ ...partner, psps: ['stripe'], stripe: { ...stripe, webhookSecret: undefined } }, 'PARTNERS_JSON is invalid at /0/stripe/webhookSecret: is not set'],
      [{ ...partner, shopUrl: 'https://' }, 'PARTNERS_JSON is invalid at /0/shopUrl: not an absolute http(s) URL'],
      [{ ...partner, orderWebhookUrl: 'https://u:p@hooks.example', orderWebhookSecret: 'a-webhook-secret-0123' }, 'PARTNERS_JSON is invalid at /0/orderWebhookUrl: must not contain credentials'],
      [{ ...partner, jwt: { jwksUrl: 'https://exa mple.com/jwks' } }, 'PARTNERS_JSON is invalid at /0/jwt/jwksUrl: not an absolute http(s) URL'],
      [{ ...partner, landingUrl: 'https://u:p@shop.example/basket' }, 'PARTNERS_JSON is invalid at /0/landingUrl: The transfer URL must not contain credentials'],
      [{ ...partner, transferHosts: ['https://shop.example'] }, 'PARTNERS_JSON is invalid at /0/transferHosts/0: "https://shop.example" is not a host'],
      [{ ...partner, transferHosts: ['shop.example', '*.cdn.example:8443'] }, 'PARTNERS_JSON is invalid at /0/transferHosts/1: "*.cdn.example:8443" is not a host'],
      [
        { ...partner, allowedOrigins: ['https://tv.acme.example/'] },
        'PARTNERS_JSON is invalid at /0/allowedOrigins/0: "https://tv.acme.example/" is not an origin (scheme://host[:port], no path or trailing slash): it would never match; did you mean "https://tv.acme.example"?',
      ],
      [{ ...partner, allowedOrigins: ['tv.acme.example'] }, 'PARTNERS_JSON is invalid at /0/allowedOrigins/0: "tv.acme.example" is not an origin'],
    ];
    for (const [entry, expected] of bad) {
      const message = configError({ PARTNERS_JSON: JSON.stringify([entry]) });
      assert.ok(message.startsWith(expected), `${JSON.stringify(entry)}\n  got:      ${message}\n  expected: ${expected}…`);
      assert.doesNotMatch(message, /51Abc|0123456789/, 'no key or secret in the message');
    }
    // the second partner is named by its index
    assert.match(configError({ PARTNERS_JSON: JSON.stringify([partner, { ...partner, id: 'p2', apiKeys: ['key-0000002'], psps: ['strpe'] }]) }), /^PARTNERS_JSON is invalid at \/1\/psps\/0: /);

    const good = [
      { ...partner, psps: ['stripe', 'sandbox'], stripe },
      { ...partner, id: 'p2', apiKeys: ['key-0000002'], psps: ['stripe'], stripe: { secretKey: 'rk_live_51Abc', publishableKey: 'pk_live_51Abc', webhookSecret: 'whsec_1', testMode: false } },
      // Stripe keys kept without Stripe in psps (orders of a former setup can still be cancelled): no webhook secret needed
      { ...partner, id: 'p3', apiKeys: ['key-0000003'], psps: ['sandbox'], stripe: { secretKey: 'sk_test_1', publishableKey: 'pk_test_1' } },
      {
        ...partner,
        id: 'p4',
        apiKeys: ['key-0000004'],
        allowedOrigins: ['*', 'https://tv.acme.example', 'http://127.0.0.1:3000'],
        transferHosts: ['shop.acme.example', 'shop.acme.example:8443', '*.acme-cdn.example'],
        landingUrl: 'https://shop.acme.example/basket?from=tv#top',
        shopUrl: 'https://shop.acme.example/',
        orderWebhookUrl: 'https://hooks.acme.example/basket',
        orderWebhookSecret: 'a-webhook-secret-0123',
      },
    ];
    const c = loadConfig({ PARTNERS_JSON: JSON.stringify(good) }, '/tmp');
    assert.deepEqual(c.partners.map((p) => p.id), ['p1', 'p2', 'p3', 'p4']);
  });

  it('a partner setting that would only fail later stops the real start with one line', () => {
    const res = spawnSync(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      env: { ...process.env, PORT: '0', DATA_DIR: mkdtempSync(path.join(tmpdir(), 'basket-cfg-')), PARTNERS_JSON: JSON.stringify([{ ...partner, psps: ['strpe'] }]) },
      encoding: 'utf8',
      timeout: 30_000,
    });
    assert.equal(res.status, 1);
    assert.equal(res.stderr.trim(), 'basket: configuration error: PARTNERS_JSON is invalid at /0/psps/0: unknown payment provider "strpe" (known: sandbox, stripe)');
  });

  it('reads a partners file', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'basket-cfg-'));
    writeFileSync(path.join(dir, 'partners.json'), JSON.stringify([partner]));
    const c = loadConfig({ PARTNERS_FILE: 'partners.json' }, dir);
    assert.deepEqual(c.partners.map((p) => p.id), ['p1']);
  });

  it('has documented rate-limit defaults, reads RATE_LIMIT_* as <max>/<window> or 0, and refuses anything else', () => {
    const c = loadConfig({}, '/srv/app');
    assert.deepEqual(c.rateLimits, {
      partner: { max: 200_000, windowMs: 10_000 },
      user: { max: 600, windowMs: 60_000 },
      guestIp: { max: 30, windowMs: 60_000 },
      redeemIp: { max: 60, windowMs: 60_000 },
      publicIp: { max: 300, windowMs: 60_000 },
      authFailuresIp: { max: 30, windowMs: 600_000 },
    });
    const set = loadConfig({ RATE_LIMIT_USER: '1200/30s', RATE_LIMIT_GUEST_IP: '0', RATE_LIMIT_PUBLIC_IP: ' 5 / 1h ' }, '/srv/app').rateLimits;
    assert.deepEqual([set.user, set.guestIp.max, set.publicIp], [{ max: 1200, windowMs: 30_000 }, 0, { max: 5, windowMs: 3_600_000 }]);
    assert.deepEqual(parseRate('10/500ms'), null, 'a window under a second');
    assert.deepEqual(parseRate('10/2d'), null, 'a window over a day');
    assert.deepEqual(parseRate('10'), null, 'a max without a window');
    assert.deepEqual(parseRate('1000000001/1m'), null);
    assert.deepEqual(parseRate('10/60'), { max: 10, windowMs: 60_000 }, 'a bare number is seconds');
    for (const bad of ['-1/1m', '10/1w', 'lots', '10/']) assert.match(configError({ RATE_LIMIT_USER: bad }), /^RATE_LIMIT_USER=.* is invalid: expected a rate like 600\/1m/, bad);
  });

  it('takes per-partner rate-limit overrides and validates them', () => {
    const withLimits = (rateLimits: unknown) => ({ PARTNERS_JSON: JSON.stringify([{ ...partner, rateLimits }]) });
    const c = loadConfig(withLimits({ partner: '1000000/10s', user: '0' }), '/tmp');
    assert.deepEqual(c.partners[0]!.rateLimits, { partner: '1000000/10s', user: '0' });
    assert.match(configError(withLimits({ partner: '10/1w' })), /PARTNERS_JSON is invalid at \/0\/rateLimits/);
    assert.match(configError(withLimits({ user: '10/0s' })), /PARTNERS_JSON is invalid at \/0\/rateLimits\/user/);
    assert.match(configError(withLimits({ guests: '10/1m' })), /PARTNERS_JSON is invalid at \/0\/rateLimits/);
  });

  it('refuses PARTNERS_FILE and PARTNERS_JSON together (one line naming both) instead of letting the file win', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'basket-cfg-'));
    writeFileSync(path.join(dir, 'partners.json'), JSON.stringify([partner]));
    const message = configError({ PARTNERS_FILE: path.join(dir, 'partners.json'), PARTNERS_JSON: JSON.stringify([{ ...partner, id: 'p2' }]) });
    assert.equal(message, 'PARTNERS_FILE and PARTNERS_JSON are both set: give the partners in only one of them');
    assert.doesNotMatch(message, /\n/);
    // an empty one counts as unset
    assert.deepEqual(loadConfig({ PARTNERS_FILE: 'partners.json', PARTNERS_JSON: '' }, dir).partners.map((p) => p.id), ['p1']);
  });

  it("public URL: PUBLIC_URL, else the listening address; the development partner's landing page follows it", () => {
    const plain = loadConfig({}, '/tmp');
    assert.equal(plain.publicUrl, 'http://127.0.0.1:8080');
    assert.equal(plain.publicUrlSet, false);
    assert.equal(plain.partners[0]!.landingUrl, 'http://127.0.0.1:8080/landing');
    const set = loadConfig({ PUBLIC_URL: 'https://basket.example.net/api/' }, '/tmp');
    assert.equal(set.publicUrl, 'https://basket.example.net/api');
    assert.equal(set.publicUrlSet, true);
    assert.equal(set.partners[0]!.landingUrl, 'https://basket.example.net/api/landing');
    assert.equal(localBaseUrl('0.0.0.0', 8080), 'http://127.0.0.1:8080');
    assert.equal(localBaseUrl('::', 9000), 'http://[::1]:9000');
    assert.equal(localBaseUrl('fd00::5', 80), 'http://[fd00::5]:80');
    assert.equal(localBaseUrl('basket.internal', 80), 'http://basket.internal:80');
  });

  it('SHUTDOWN_TIMEOUT bounds the drain at SIGTERM (default 10 s)', () => {
    assert.equal(loadConfig({}, '/tmp').shutdownMs, 10_000);
    assert.equal(loadConfig({ SHUTDOWN_TIMEOUT: '30s' }, '/tmp').shutdownMs, 30_000);
  });

  it('EVENTS_TTL (default 90 days) and EVENTS_SECRET (at least 32 characters, never echoed); an analytics webhook needs its secret', () => {
    assert.deepEqual(loadConfig({}, '/tmp').events, { ttlMs: 90 * 86_400_000, secret: null });
    const secret = 'an-events-secret-of-32-characters!';
    assert.deepEqual(loadConfig({ EVENTS_TTL: '30d', EVENTS_SECRET: secret }, '/tmp').events, { ttlMs: 30 * 86_400_000, secret });
    assert.match(configError({ EVENTS_TTL: '10s' }), /^EVENTS_TTL=/);
    const short = configError({ EVENTS_SECRET: 'short-secret-value' });
    assert.match(short, /^EVENTS_SECRET is invalid/);
    assert.doesNotMatch(short, /short-secret-value/);
    const hook = { ...partner, analyticsWebhookUrl: 'https://stats.example/hook' };
    assert.match(configError({ PARTNERS_JSON: JSON.stringify([hook]) }), /\/0\/analyticsWebhookSecret: an analyticsWebhookUrl needs a secret/);
    const c = loadConfig({ PARTNERS_JSON: JSON.stringify([{ ...hook, analyticsWebhookSecret: 'a-webhook-secret-16' }]) }, '/tmp');
    assert.equal(c.partners[0]!.analyticsWebhookUrl, 'https://stats.example/hook');
  });

  it('parses durations', () => {
    assert.equal(parseDuration('500ms'), 500);
    assert.equal(parseDuration('60'), 60_000);
    assert.equal(parseDuration('30m'), 1_800_000);
    assert.equal(parseDuration('24h'), 86_400_000);
    assert.equal(parseDuration('30d'), 2_592_000_000);
    assert.equal(parseDuration('1w'), null);
    assert.equal(parseDuration('-1s'), null);
  });

  it('a bad setting stops the real start with one clear line', () => {
    const res = spawnSync(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      env: { ...process.env, PORT: 'eighty', DATA_DIR: mkdtempSync(path.join(tmpdir(), 'basket-cfg-')) },
      encoding: 'utf8',
      timeout: 30_000,
    });
    assert.equal(res.status, 1);
    assert.equal(res.stderr.trim(), 'basket: configuration error: PORT="eighty" is invalid: expected an integer from 0 to 65535');
  });

  it('bounds the HTTP edge (issue 17): connection cap, share per address, timeouts', () => {
    const c = loadConfig({}, '/srv/app').edge;
    assert.equal(c.maxConnections, defaultMaxConnections());
    assert.equal(c.maxConnectionsPerIp, Math.floor(c.maxConnections / 4));
    assert.deepEqual([c.requestTimeoutMs, c.headersTimeoutMs, c.keepAliveTimeoutMs], [10_000, 5000, 5000]);
    // 2048, fewer when the open-file limit leaves less room
    assert.deepEqual([defaultMaxConnections(null), defaultMaxConnections(20_000), defaultMaxConnections(1024), defaultMaxConnections(10)], [2048, 2048, 768, 64]);
    const set = loadConfig({ MAX_CONNECTIONS: '200', MAX_CONNECTIONS_PER_IP: '0', REQUEST_TIMEOUT: '3s', HEADERS_TIMEOUT: '2s', KEEP_ALIVE_TIMEOUT: '500ms' }, '/srv/app').edge;
    assert.deepEqual(set, { maxConnections: 200, maxConnectionsPerIp: 0, requestTimeoutMs: 3000, headersTimeoutMs: 2000, keepAliveTimeoutMs: 500 });
    // behind a proxy all connections share the proxy's address: no share per address unless asked
    assert.equal(loadConfig({ TRUST_PROXY: 'true' }, '/srv/app').edge.maxConnectionsPerIp, 0);
    assert.equal(loadConfig({ REQUEST_TIMEOUT: '2s' }, '/srv/app').edge.headersTimeoutMs, 2000);
    assert.match(configError({ MAX_CONNECTIONS: '5' }), /MAX_CONNECTIONS="5" is invalid/);
    assert.match(configError({ REQUEST_TIMEOUT: 'soon' }), /REQUEST_TIMEOUT="soon" is invalid/);
    assert.match(configError({ REQUEST_TIMEOUT: '2s', HEADERS_TIMEOUT: '3s' }), /HEADERS_TIMEOUT="3s" is invalid: it must not exceed REQUEST_TIMEOUT/);
  });

  describe('shop surface (shop-api.md §4)', () => {
    const shopPartner = (shop: unknown, extra: Record<string, unknown> = {}) => ({ ...partner, ...extra, shop });
    const client = { id: 'web', secret: 'a-shop-secret-0123', scopes: ['checkout'] };
    const good = { clients: [client], url: 'https://shop.p1.example/', recaptcha: { secret: 'recaptcha-secret' } };
    const env = (partners: unknown[], more: Record<string, string> = {}) => ({ PARTNERS_JSON: JSON.stringify(partners), ...more });

    it('accepts a shop entry, plain or sha256: secrets, http only on loopback', () => {
      const c = loadConfig(env([shopPartner(good)]), '/tmp');
      assert.equal(c.partners[0]!.shop?.clients[0]!.id, 'web');
      loadConfig(env([shopPartner({ ...good, clients: [{ ...client, secret: `sha256:${'ab'.repeat(32)}` }] })]), '/tmp');
      loadConfig(env([shopPartner({ ...good, url: 'http://localhost:3000/shop' })]), '/tmp');
      assert.equal(c.shop.recaptchaVerifyUrl, 'https://www.google.com/recaptcha/api/siteverify');
      assert.equal(loadConfig({ ...env([shopPartner(good)]), RECAPTCHA_VERIFY_URL: 'http://127.0.0.1:9999/v' }, '/tmp').shop.recaptchaVerifyUrl, 'http://127.0.0.1:9999/v');
    });

    it('stops the start with one line naming a bad entry (never its secret)', () => {
      const other = { ...partner, id: 'p2', apiKeys: ['key-0000002'] };
      const cases: [Record<string, string>, RegExp][] = [
        [env([shopPartner({ ...good, clients: [{ ...client, secret: 'short' }] })]), /\/0\/shop\/clients\/0\/secret/],
        [env([shopPartner({ ...good, clients: [{ ...client, secret: 'sha256:abcdefabcdefabcdef' }] })]), /\/0\/shop\/clients\/0\/secret: must be sha256:<64 hex digits>/],
        [env([shopPartner({ ...good, clients: [{ ...client, scopes: ['admin'] }] })]), /\/0\/shop\/clients\/0\/scopes/],
        [env([shopPartner({ ...good, clients: [{ ...client, id: 'has space' }] })]), /\/0\/shop\/clients\/0\/id/],
        [env([shopPartner({ ...good, clients: [] })]), /\/0\/shop\/clients/],
        [env([shopPartner({ ...good, url: 'http://shop.p1.example/' })]), /\/0\/shop\/url: must be an https URL/],
        [env([shopPartner({ ...good, url: 'ftp://x' })]), /\/0\/shop\/url/],
        [env([shopPartner({ ...good, url: 'https://user:pw@shop.example/' })]), /\/0\/shop\/url: must not contain credentials/],
        [env([shopPartner({ ...good, recaptcha: undefined })]), /\/0\/shop: must have required properties recaptcha/],
        [env([shopPartner({ ...good, recaptcha: { secret: 'recaptcha-secret', minScore: 2 } })]), /\/0\/shop\/recaptcha/],
        [env([shopPartner(good), { ...other, shop: good }]), /\/1\/shop\/clients\/0\/id: shop client id web is used twice/],
        [env([shopPartner({ ...good, clients: [client, client] })]), /shop client id web is used twice/],
        [{ ...env([shopPartner({ ...good, recaptcha: { development: true } })]), NODE_ENV: 'production' }, /shop\.recaptcha\.development/],
        [{ ...env([shopPartner({ ...good, clients: [{ ...client, id: 'dev-shop-client' }] })]), DEV_PARTNER: 'true' }, /dev-shop-client/],
        [{ ...env([shopPartner(good)]), RECAPTCHA_VERIFY_URL: 'not a url' }, /^RECAPTCHA_VERIFY_URL=/],
      ];
      for (const [e, expected] of cases) {
        const message = configError(e);
        assert.match(message, expected, JSON.stringify(e));
        assert.doesNotMatch(message, /a-shop-secret-0123|recaptcha-secret/, 'no secret in the message');
      }
    });

    it('gives the development partner its shop client, its own demo shop page and the development verifier', () => {
      const c = loadConfig({ PORT: '8123' }, '/tmp');
      const demo = c.partners.find((p) => p.id === 'demo')!;
      assert.deepEqual(demo.shop?.clients, [{ id: 'dev-shop-client', secret: 'dev-shop-secret-0123456789', scopes: ['checkout'] }]);
      assert.equal(demo.shop?.url, 'http://127.0.0.1:8123/demo/shop');
      assert.deepEqual(demo.shop?.recaptcha, { development: true });
      assert.equal(loadConfig({ PUBLIC_URL: 'https://basket.example/' }, '/tmp').partners[0]!.shop?.url, 'https://basket.example/demo/shop');
    });
  });
});
