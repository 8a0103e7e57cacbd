import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ConfigError, defaultMaxConnections, loadConfig, parseDuration } from '../src/config.js';

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
  });

  it('turns the dev partner off in production and then needs partners', () => {
    assert.match(configError({ NODE_ENV: 'production' }), /PARTNERS_FILE/);
    const c = loadConfig({ NODE_ENV: 'production', PARTNERS_JSON: JSON.stringify([partner]) }, '/tmp');
    assert.equal(c.devPartner, false);
    assert.equal(c.adminKey, null, 'no default admin key outside development');
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
      [{ STORE_URL: 'mysql://x' }, /^STORE_URL=/],
      [{ LOG_LEVEL: 'loud' }, /^LOG_LEVEL=/],
      [{ DEV_PARTNER: 'maybe' }, /^DEV_PARTNER=/],
      [{ ADMIN_KEY: 'short' }, /^ADMIN_KEY/],
      [{ PUBLIC_URL: 'ftp://x' }, /^PUBLIC_URL=/],
      [{ PARTNERS_JSON: '{not json' }, /^PARTNERS_JSON is not valid JSON/],
      [{ PARTNERS_FILE: '/nonexistent/partners.json' }, /^PARTNERS_FILE=.*cannot be read/],
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

  it('reads a partners file', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'basket-cfg-'));
    writeFileSync(path.join(dir, 'partners.json'), JSON.stringify([partner]));
    const c = loadConfig({ PARTNERS_FILE: 'partners.json' }, dir);
    assert.deepEqual(c.partners.map((p) => p.id), ['p1']);
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
});
