/**
 * GET /metrics through the real server on TEST_STORE: scraped and parsed as Prometheus text; requests counted by
 * route pattern, store calls by operation and engine, the outbox's depth and lag, token-cache hits, process metrics;
 * METRICS_TOKEN guards it.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { OutboxInput } from '../../src/store/store.js';
import { DEMO_KEY, startTestServer, TEST_STORE, userHeaders, type EnvelopeBody, type TestServer } from '../http/harness.js';
import { parsePrometheusText, type PromText } from './prometheus-text.js';

const REQUESTS = 'basket_http_request_duration_seconds';
const STORE_OPS = 'basket_store_operation_duration_seconds';
const USER_ROUTE = '/v2/baskets/users/:userId';

async function scrape(t: TestServer, headers: Record<string, string> = {}): Promise<PromText> {
  const res = await t.server.app.inject({ method: 'GET', url: '/metrics', headers });
  assert.equal(res.statusCode, 200, res.body);
  assert.equal(res.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
  return parsePrometheusText(res.body);
}

describe('GET /metrics', () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer();
  });
  after(() => t.close());

  it('counts requests by route pattern, method and status, never by the URL', async () => {
    const token = await t.demoToken('metrics-user-1');
    const headers = userHeaders(DEMO_KEY, token);
    const before = await scrape(t);
    const labels = { route: USER_ROUTE, method: 'GET', status: '200' };
    const counted = before.value(`${REQUESTS}_count`, labels);
    for (let i = 0; i < 3; i++) assert.equal((await t.server.app.inject({ method: 'GET', url: '/v2/baskets/users/metrics-user-1', headers })).statusCode, 200);
    assert.equal((await t.server.app.inject({ method: 'GET', url: '/v2/baskets/users/someone-else', headers })).statusCode, 403);
    assert.equal((await t.server.app.inject({ method: 'GET', url: '/no/such/route/metrics-user-1' })).statusCode, 404);

    const m = await scrape(t);
    assert.equal(m.types.get(REQUESTS), 'histogram');
    assert.equal(m.value(`${REQUESTS}_count`, labels), counted + 3);
    assert.equal(m.value(`${REQUESTS}_count`, { ...labels, status: '403' }), 1);
    assert.equal(m.value(`${REQUESTS}_count`, { route: 'not_found', method: 'GET', status: '404' }), 1);
    // the buckets add up to the count, and the sum is a plausible time
    const buckets = m.find(`${REQUESTS}_bucket`, labels);
    assert.equal(buckets.at(-1)?.labels.le, '+Inf');
    assert.equal(buckets.at(-1)?.value, counted + 3);
    for (let i = 1; i < buckets.length; i++) assert.ok(buckets[i]!.value >= buckets[i - 1]!.value, 'cumulative buckets');
    const sum = m.value(`${REQUESTS}_sum`, labels);
    assert.ok(sum > 0 && sum < 60, `sum ${sum}`);
    // user ids never become label values
    assert.ok(!m.samples.some((s) => Object.values(s.labels).some((v) => v.includes('metrics-user-1') || v.includes('someone-else'))));
  });

  it('times store calls by operation, with the engine as a label', async () => {
    const token = await t.demoToken('metrics-user-2');
    const headers = userHeaders(DEMO_KEY, token, { 'content-type': 'application/json' });
    const before = await scrape(t);
    const updates = { operation: 'updateBasket', engine: TEST_STORE };
    const counted = before.value(`${STORE_OPS}_count`, updates);
    const add = await t.server.app.inject({ method: 'POST', url: '/v2/baskets/users/metrics-user-2/products/prod-123', headers, payload: '{"count":1}' });
    assert.equal(add.statusCode, 200, add.body);

    const m = await scrape(t);
    assert.equal(m.types.get(STORE_OPS), 'histogram');
    assert.equal(m.value(`${STORE_OPS}_count`, updates), counted + 1);
    const engines = new Set(m.find(`${STORE_OPS}_count`).map((s) => s.labels.engine));
    assert.deepEqual([...engines], [TEST_STORE]);
    // the basket read of the GET: synchronous on SQLite, a promise elsewhere
    await t.server.app.inject({ method: 'GET', url: '/v2/baskets/users/metrics-user-2', headers });
    const read = TEST_STORE === 'sqlite' ? 'getBasketSync' : 'getBasket';
    assert.ok((await scrape(t)).value(`${STORE_OPS}_count`, { operation: read, engine: TEST_STORE }) >= 1);
  });

  it('reports the outbox depth, what is ready and how long the oldest ready message has waited', async () => {
    const now = t.clock.now;
    const before = await scrape(t);
    const depth = before.value('basket_outbox_depth');
    const message = (key: string, availableAt: number): OutboxInput => ({ topic: 'metrics.test', key, payload: { key }, availableAt });
    await t.server.store.enqueue([message('later-1', now + 60_000), message('later-2', now + 60_000), message('due', now - 5000)]);

    const m = await scrape(t);
    assert.equal(m.types.get('basket_outbox_depth'), 'gauge');
    assert.equal(m.value('basket_outbox_depth'), depth + 3);
    assert.equal(m.value('basket_outbox_ready'), before.value('basket_outbox_ready') + 1);
    assert.ok(m.value('basket_outbox_oldest_ready_age_seconds') >= 5, 'the due message has waited 5 s');

    // taken and completed: gone
    const claimed = await t.server.store.claim({ now, limit: 10, leaseMs: 1000, owner: 'metrics-test', topics: ['metrics.test'] });
    for (const c of claimed) await t.server.store.complete(c.id, 'metrics-test');
    assert.equal((await scrape(t)).value('basket_outbox_depth'), depth + 2);
  });

  it('counts token-cache hits and misses', async () => {
    const token = await t.demoToken('metrics-user-3');
    const headers = userHeaders(DEMO_KEY, token);
    const before = await scrape(t);
    for (let i = 0; i < 3; i++) await t.server.app.inject({ method: 'GET', url: '/v2/baskets/users/metrics-user-3', headers });
    const m = await scrape(t);
    assert.equal(m.types.get('basket_token_cache_lookups_total'), 'counter');
    assert.equal(m.value('basket_token_cache_lookups_total', { result: 'miss' }), before.value('basket_token_cache_lookups_total', { result: 'miss' }) + 1);
    assert.equal(m.value('basket_token_cache_lookups_total', { result: 'hit' }), before.value('basket_token_cache_lookups_total', { result: 'hit' }) + 2);
  });

  it('has the process and Node.js metrics', async () => {
    const m = await scrape(t);
    assert.ok(m.value('process_cpu_seconds_total') > 0);
    assert.ok(m.value('process_resident_memory_bytes') > 0);
    assert.ok(m.value('nodejs_heap_size_used_bytes') > 0);
    assert.equal(m.types.get('nodejs_eventloop_lag_seconds'), 'gauge');
  });

  it('is left out of the OpenAPI document', async () => {
    const doc = (await t.server.app.inject({ method: 'GET', url: '/openapi.json' })).json() as { paths: Record<string, unknown> };
    assert.ok(!('/metrics' in doc.paths));
  });
});

describe('GET /metrics when the store does not answer', () => {
  it('still answers: the outbox figures are NaN and the failed call is counted', async () => {
    const t = await startTestServer();
    try {
      await t.server.store.close();
      const m = await scrape(t);
      assert.ok(Number.isNaN(m.value('basket_outbox_depth')));
      assert.ok(Number.isNaN(m.value('basket_outbox_oldest_ready_age_seconds')));
      // counted once the read has failed, so the next scrape shows it
      const next = await scrape(t);
      assert.ok(next.value('basket_store_unavailable_total', { operation: 'outboxStats', engine: TEST_STORE }) >= 1);
    } finally {
      await t.close();
    }
  });
});

describe('METRICS_TOKEN', () => {
  const TOKEN = 'scrape-token-0123456789abcdef';
  let t: TestServer;
  before(async () => {
    t = await startTestServer({ METRICS_TOKEN: TOKEN });
  });
  after(() => t.close());

  for (const [what, authorization] of [
    ['no Authorization header', undefined],
    ['another token', 'Bearer scrape-token-0123456789abcdeX'],
    ['the token without the Bearer scheme', TOKEN],
    ['a prefix of the token', `Bearer ${TOKEN.slice(0, -1)}`],
  ] as const) {
    it(`answers 401 in the envelope to ${what}`, async () => {
      const res = await t.server.app.inject({ method: 'GET', url: '/metrics', headers: authorization === undefined ? {} : { authorization } });
      assert.equal(res.statusCode, 401);
      assert.equal(res.headers['www-authenticate'], 'Bearer realm="metrics"');
      const body = res.json() as EnvelopeBody;
      assert.equal(body.data, null);
      assert.equal(body.error?.code, 2002);
      assert.ok(!res.body.includes('basket_'), 'no metrics in the answer');
    });
  }

  it('answers the metrics to the bearer of the token (scheme in any case)', async () => {
    assert.ok((await scrape(t, { authorization: `Bearer ${TOKEN}` })).types.has(REQUESTS));
    assert.ok((await scrape(t, { authorization: `bearer ${TOKEN}` })).types.has(REQUESTS));
  });
});
