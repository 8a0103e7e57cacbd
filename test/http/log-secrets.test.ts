/**
 * Secrets out of logs (issue 17 item 7): a whole journey (guest, assign, transfer with QR, the QR image, the
 * landing page and its form post, redemption over the API, checkout, admin import) logged with LOG_REQUESTS=true
 * at debug level must not hold a transfer token, a bearer token, an API key or the admin key anywhere.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { loadConfig } from '../../src/config.js';
import { redactUrl } from '../../src/http/redact.js';
import { createServer } from '../../src/server.js';
import { ADMIN_KEY, DEMO_KEY, demoSecret, sign, type EnvelopeBody, type GuestData } from './harness.js';
import { DEV_PARTNER, DEV_SHOP_CLIENT } from '../../src/config.js';

interface TransferData {
  jayToken: string;
  url: string;
  qrCodeImageUrl: string | null;
}

describe('secrets out of logs (issue 17 item 7)', () => {
  it('masks jayToken values and the QR path token; leaves other URLs alone', () => {
    assert.equal(redactUrl('/v2/baskets/users/u1'), '/v2/baskets/users/u1');
    assert.equal(redactUrl('/landing?jaySource=demo-tv&jayToken=abc'), '/landing?jaySource=demo-tv&jayToken=[redacted]');
    assert.equal(redactUrl('/baskets/transfers/abc_DEF-1/qr.png'), '/baskets/transfers/[redacted]/qr.png');
    assert.equal(redactUrl('/v2/baskets/guests?jay%54oken=abc&limit=2'), '/v2/baskets/guests?jay%54oken=[redacted]&limit=2');
  });

  it('a debug log of a full journey holds no token or key', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'basket-secrets-'));
    let log = '';
    const stream = new Writable({
      write(chunk: Buffer, _enc, done) {
        log += chunk.toString('utf8');
        done();
      },
    });
    const env = {
      DATA_DIR: dataDir,
      STORE_URL: `sqlite:${path.join(dataDir, 'b.db')}`,
      DEV_PARTNER: 'true',
      RUN_WORKERS: 'false',
      LOG_REQUESTS: 'true',
      LOG_LEVEL: 'debug',
      ADMIN_KEY,
    };
    const server = await createServer(loadConfig(env, dataDir), { logger: { level: 'debug', stream } });
    const secrets: string[] = [DEMO_KEY, ADMIN_KEY];
    try {
      const app = server.app;
      const json = { 'content-type': 'application/json' };
      const call = async <T>(method: 'GET' | 'POST' | 'PUT', url: string, headers: Record<string, string>, payload?: string) => {
        const res = await app.inject({ method, url, headers, ...(payload === undefined ? {} : { payload }) });
        assert.ok(res.statusCode < 400, `${method} ${url}: ${res.statusCode} ${res.body.slice(0, 200)}`);
        return res.headers['content-type']?.toString().startsWith('application/json') ? (res.json() as EnvelopeBody<T>).data : (undefined as T);
      };

      // the catalogue, through the admin API
      await call('PUT', '/admin/products/hat-9?partner=demo', { ...json, 'x-admin-key': ADMIN_KEY }, JSON.stringify({ name: 'Hat', price: 10, currency: 'EUR' }));
      await call('POST', '/admin/products:import?partner=demo', { 'content-type': 'application/x-ndjson', 'x-admin-key': ADMIN_KEY }, '{"productId":"cap-9","name":"Cap","price":5,"currency":"EUR"}\n');

      // a guest, an assign with the guest's token, a transfer with QR, its image, the landing page
      const guest = await call<GuestData>('POST', '/v2/baskets/guests', { ...json, 'x-api-key': DEMO_KEY }, JSON.stringify({ products: [{ productId: 'hat-9' }] }));
      secrets.push(guest.token);
      const asGuest = { ...json, 'x-api-key': DEMO_KEY, authorization: `Bearer ${guest.token}` };
      await call('POST', `/v2/baskets/users/${guest.userId}/products/cap-9`, asGuest, '{"count":2}');
      const first = await call<TransferData>('POST', `/v2/baskets/users/${guest.userId}/transfer?qr=true`, asGuest, '{}');
      secrets.push(first.jayToken);
      await call('GET', new URL(first.qrCodeImageUrl!).pathname, {});
      const landing = new URL(first.url);
      await call('GET', `${landing.pathname}${landing.search}`, {});
      await call('POST', landing.pathname, { 'content-type': 'application/x-www-form-urlencoded' }, `jayToken=${first.jayToken}`);

      // another transfer, redeemed over the API (GET and POST)
      for (const method of ['GET', 'POST'] as const) {
        const next = await call<TransferData>('POST', `/v2/baskets/users/${guest.userId}/transfer`, asGuest, '{}');
        secrets.push(next.jayToken);
        const redeemed = await call<GuestData>(method, `/v2/baskets/guests?jayToken=${next.jayToken}`, { ...json, 'x-api-key': DEMO_KEY }, method === 'POST' ? '{}' : undefined);
        secrets.push(redeemed.token);
      }

      // a partner user checks out
      const now = Math.floor(Date.now() / 1000);
      const userToken = await sign(demoSecret, 'HS256', {}, { sub: 'buyer-9', iss: DEV_PARTNER.jwt.issuer!, aud: DEV_PARTNER.jwt.audience!, exp: now + 600 });
      secrets.push(userToken);
      const asUser = { ...json, 'x-api-key': DEMO_KEY, authorization: `Bearer ${userToken}` };
      await call('POST', '/v2/baskets/users/buyer-9/products/hat-9', asUser, '{"count":1}');
      await call('POST', '/v2/baskets/users/buyer-9/checkout/sessions', { ...asUser, 'idempotency-key': 'journey-key-1' }, '{}');
      await call('POST', '/v2/baskets/users/buyer-9/checkout/sessions/finish-active', asUser, '{"ordered":true}');
      // the shop surface: a token by form and by HTTP Basic, used, and refused attempts (a wrong secret, a bad token)
      secrets.push(DEV_SHOP_CLIENT.secret, Buffer.from(`${DEV_SHOP_CLIENT.id}:${DEV_SHOP_CLIENT.secret}`).toString('base64'));
      const form = { 'content-type': 'application/x-www-form-urlencoded' };
      const byForm = await app.inject({ method: 'POST', url: '/oauth2/token', headers: form, payload: `grant_type=client_credentials&client_id=${DEV_SHOP_CLIENT.id}&client_secret=${DEV_SHOP_CLIENT.secret}` });
      assert.equal(byForm.statusCode, 200);
      const basicAuth = `Basic ${Buffer.from(`${DEV_SHOP_CLIENT.id}:${DEV_SHOP_CLIENT.secret}`).toString('base64')}`;
      const byBasic = await app.inject({ method: 'POST', url: '/oauth2/token', headers: { ...form, authorization: basicAuth }, payload: 'grant_type=client_credentials' });
      assert.equal(byBasic.statusCode, 200);
      const shopToken = (byForm.json() as { access_token: string }).access_token;
      secrets.push(shopToken, (byBasic.json() as { access_token: string }).access_token);
      await app.inject({ method: 'GET', url: '/api/checkout/nothing', headers: { authorization: `Bearer ${shopToken}` } });
      await app.inject({ method: 'GET', url: '/api/checkout/nothing', headers: { authorization: `Bearer ${shopToken}x` } });
      await app.inject({ method: 'POST', url: '/oauth2/token', headers: { ...form, authorization: `Basic ${Buffer.from(`${DEV_SHOP_CLIENT.id}:${DEV_SHOP_CLIENT.secret}x`).toString('base64')}` }, payload: 'grant_type=client_credentials' });
      await app.inject({ method: 'POST', url: '/oauth2/token', headers: form, payload: `grant_type=password&client_id=${DEV_SHOP_CLIENT.id}&client_secret=${DEV_SHOP_CLIENT.secret}` });
      // refused requests are logged too
      await app.inject({ method: 'GET', url: `/v2/baskets/users/buyer-9`, headers: { 'x-api-key': DEMO_KEY, authorization: `Bearer ${userToken}x` } });
      await app.inject({ method: 'GET', url: `/baskets/transfers/${first.jayToken}/qr.png` });
      await app.inject({ method: 'GET', url: `/landing?jayToken=${first.jayToken}` });
    } finally {
      await server.close().catch(() => {});
      rmSync(dataDir, { recursive: true, force: true });
    }
    assert.ok(log.split('\n').length > 30, `a request log was written (${log.length} bytes)`);
    assert.match(log, /jayToken=\[redacted\]/);
    assert.match(log, /\/transfers\/\[redacted\]\/qr\.png/);
    for (const secret of secrets) {
      const at = log.indexOf(secret);
      assert.equal(at, -1, `a secret (${secret.slice(0, 6)}…) is in the log: …${log.slice(Math.max(0, at - 200), at + 40)}`);
    }
  });
});
