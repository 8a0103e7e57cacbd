/**
 * Helpers of the shop checkout tests: a second partner with shop clients, tokens from POST /oauth2/token, requests
 * with a bearer token and the landing-state cookie, offers put straight into the shop store.
 */
import assert from 'node:assert/strict';
import { DEV_PARTNER, DEV_SHOP_CLIENT } from '../../src/config.js';
import type { Offer } from '../../src/domain/shop/records.js';
import { SandboxPsp } from '../../src/psp/sandbox.js';
import type { PaymentRequest, CreatedPayment } from '../../src/psp/psp.js';
import type { PartnerConfig } from '../../src/config.js';
import { TEST_PARTNERS, type TestServer } from './harness.js';

export const DEMO = DEV_PARTNER.id;
export const SHOPCO = 'shopco';
export const SHOPCO_CLIENT = { id: 'shopco-web', secret: 'shopco-secret-abcdefghijklmnop' };
export const SHOPCO_URL = 'https://shop.shopco.example/basket';
export const PUBLIC_URL = 'https://basket.example.net';

/** The harness's partners plus one with a shop of its own (partner isolation). */
export const SHOP_PARTNERS_JSON = JSON.stringify([
  ...TEST_PARTNERS,
  {
    id: SHOPCO,
    apiKeys: ['shopco-api-key-0001'],
    jwt: { secret: 'shopco-partner-secret-0123456789' },
    shop: { clients: [{ ...SHOPCO_CLIENT, scopes: ['checkout'] }], url: SHOPCO_URL, recaptcha: { development: true } },
  },
]);

export const SHOP_ENV = { PARTNERS_JSON: SHOP_PARTNERS_JSON, PUBLIC_URL };

/** A sandbox that counts payments and declines while `decline` is set. */
export class CountingSandbox extends SandboxPsp {
  payments: string[] = [];
  declining = false;

  constructor() {
    super({ decline: () => this.declining });
  }

  override async createPayment(partner: PartnerConfig, request: PaymentRequest): Promise<CreatedPayment> {
    this.payments.push(request.orderNo);
    return super.createPayment(partner, request);
  }
}

export async function shopToken(t: TestServer, client: { id: string; secret: string } = DEV_SHOP_CLIENT): Promise<string> {
  const res = await t.server.app.inject({
    method: 'POST',
    url: '/oauth2/token',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({ grant_type: 'client_credentials', client_id: client.id, client_secret: client.secret }).toString(),
  });
  assert.equal(res.statusCode, 200, res.body);
  return (res.json() as { access_token: string }).access_token;
}

export interface ShopRes<T = Record<string, unknown>> {
  status: number;
  body: T;
  headers: Record<string, unknown>;
  raw: string;
}

export interface ShopRequest {
  token?: string | null;
  body?: unknown;
  cookie?: string;
  headers?: Record<string, string>;
}

export async function shopCall<T = Record<string, unknown>>(t: TestServer, method: 'GET' | 'POST' | 'PUT', url: string, r: ShopRequest = {}): Promise<ShopRes<T>> {
  const headers: Record<string, string> = { ...(r.headers ?? {}) };
  if (r.token) headers.authorization = `Bearer ${r.token}`;
  if (r.cookie !== undefined) headers.cookie = r.cookie;
  if (r.body !== undefined) headers['content-type'] = 'application/json';
  const res = await t.server.app.inject({ method, url, headers, ...(r.body !== undefined ? { payload: JSON.stringify(r.body) } : {}) });
  const isJson = String(res.headers['content-type'] ?? '').includes('json');
  return { status: res.statusCode, body: (isJson && res.body !== '' ? res.json() : {}) as T, headers: res.headers, raw: res.body };
}

/** `limio_state=...` of a Set-Cookie header, as a Cookie header sends it back. */
export function cookieOf(res: ShopRes<unknown>): string {
  const set = res.headers['set-cookie'];
  const line = Array.isArray(set) ? set.find((s) => s.startsWith('limio_state=')) : set;
  assert.ok(typeof line === 'string' && line.startsWith('limio_state='), `a landing-state cookie: ${String(set)}`);
  return line.split(';')[0]!;
}

export function expectMessage(res: ShopRes<unknown>, status: number, pattern?: RegExp | string): void {
  assert.equal(res.status, status, `status ${res.status}: ${res.raw}`);
  const body = res.body as { message?: unknown };
  assert.deepEqual(Object.keys(body), ['message'], res.raw);
  assert.equal(typeof body.message, 'string');
  if (typeof pattern === 'string') assert.equal(body.message, pattern);
  else if (pattern) assert.match(body.message as string, pattern);
}

export function offer(id: string, over: Partial<Offer> = {}): Offer {
  return {
    id,
    version: 'v1',
    name: `Offer ${id}`,
    path: `/offers/${id}`,
    type: 'offer',
    price: 999,
    currency: 'EUR',
    taxRateBp: 1900,
    term: { length: 1, unit: 'month' },
    products: [{ productCode: id, path: `/products/${id}` }],
    upgrades: [],
    downgrades: [],
    crossSells: [],
    ...over,
  };
}

/**
 * A small offer set: two subscriptions, two add-ons, a dollar offer. The development partner also has the demo set
 * (demo/offers.jsonl, loaded at start), whose one-off offers sell the demo products (`offer-prod-123`, ...).
 */
export const OFFERS: Offer[] = [
  offer('basic-monthly', { crossSells: ['sports'] }),
  offer('premium-monthly', { price: 1799, crossSells: ['sports', 'screen'] }),
  offer('sports', { type: 'add_on', price: 499 }),
  offer('screen', { type: 'add_on', price: 299 }),
  offer('dollars', { currency: 'USD', price: 500 }),
];

export async function loadOffers(t: TestServer, partnerId: string, offers: readonly Offer[] = OFFERS): Promise<void> {
  await t.server.store.shop.putOffers(partnerId, offers);
}

export const item = (id: string, quantity = 1, version = 'v1') => ({ offer: { id, version }, quantity, type: 'offer' as const });
export const addOn = (id: string, parentId: string, quantity = 1) => ({ offer: { id, version: 'v1' }, quantity, type: 'add_on' as const, parentId });

export async function initiate(t: TestServer, token: string, order: Record<string, unknown>): Promise<ShopRes<{ id: string }>> {
  return shopCall<{ id: string }>(t, 'POST', '/api/checkout/initiate', { token, body: { order: { order_type: 'new', ...order } } });
}

export interface BasketAnswer {
  id: string;
  order: {
    orderItems: Array<{ id: string; type: string; offer: { id: string; version: string } | null; productId: string | null; parentId: string | null; name: string; quantity: number; price: { amount: number; currency: string }; total: { amount: number; currency: string } }>;
    total: { amount: number; currency: string | null };
    expiresAt: string;
  };
}

export async function update(t: TestServer, token: string, cookie: string | undefined, orderItems: unknown[]): Promise<ShopRes<BasketAnswer>> {
  return shopCall<BasketAnswer>(t, 'PUT', '/api/checkout/update', { token, ...(cookie !== undefined ? { cookie } : {}), body: { orderItems } });
}

export interface OrderAnswer {
  id: string;
  order_reference: string | null;
  status: string;
  external_id: string | null;
  subscriptionReference: string | null;
}

export async function submit(t: TestServer, token: string, checkoutId: string, extra: Record<string, unknown> = {}): Promise<ShopRes<OrderAnswer>> {
  return shopCall<OrderAnswer>(t, 'POST', '/api/order', { token, body: { checkoutId, ...extra } });
}
