/**
 * The hot-path histogram (src/metrics/latency-histogram.ts) as prom-client prints and aggregates it, and the
 * aggregation over cluster workers that a scrape with WORKERS > 1 answers (prom-client's AggregatorRegistry).
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { AggregatorRegistry, Registry } from 'prom-client';
import { LatencyHistogram } from '../../src/metrics/latency-histogram.js';
import { Metrics } from '../../src/metrics/metrics.js';
import { openSqliteStore } from '../../src/store/sqlite/index.js';
import { parsePrometheusText } from './prometheus-text.js';

const dir = mkdtempSync(path.join(tmpdir(), 'basket-metrics-hist-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('LatencyHistogram', () => {
  it('prints as a Prometheus histogram: cumulative buckets (le inclusive), +Inf, sum and count', async () => {
    const registry = new Registry();
    const h = new LatencyHistogram('t_seconds', 'test', ['op'] as const, [0.001, 0.01, 0.1]).registerIn(registry);
    const a = h.cell({ op: 'a' });
    assert.equal(h.cell({ op: 'a' }), a, 'one cell per label set');
    for (const v of [0.0005, 0.001, 0.005, 0.05, 3]) a.observe(v);
    h.cell({ op: 'unused' });
    const m = parsePrometheusText(await registry.metrics());
    assert.equal(m.types.get('t_seconds'), 'histogram');
    assert.deepEqual(
      m.find('t_seconds_bucket', { op: 'a' }).map((s) => [s.labels.le, s.value]),
      [
        ['0.001', 2],
        ['0.01', 3],
        ['0.1', 4],
        ['+Inf', 5],
      ],
    );
    assert.equal(m.value('t_seconds_count', { op: 'a' }), 5);
    assert.ok(Math.abs(m.value('t_seconds_sum', { op: 'a' }) - 3.0565) < 1e-9);
    assert.deepEqual(m.find('t_seconds_count', { op: 'unused' }), [], 'a label set without observations does not show');
  });

  it('escapes label values', async () => {
    const registry = new Registry();
    new LatencyHistogram('e_seconds', 'test', ['route'] as const).registerIn(registry).cell({ route: 'a"b\\c\nd' }).observe(0.1);
    assert.equal(parsePrometheusText(await registry.metrics()).value('e_seconds_count', { route: 'a"b\\c\nd' }), 1);
  });
});

describe('aggregation over cluster workers', () => {
  it('sums requests, store calls, token lookups and processes; takes the largest outbox figures', async () => {
    const store = await openSqliteStore(path.join(dir, 'shared.db'));
    try {
      const now = Date.now();
      await store.enqueue([
        { topic: 't', key: 'due', payload: null, availableAt: now - 2000 },
        { topic: 't', key: 'later', payload: null, availableAt: now + 60_000 },
      ]);
      const log = pino({ level: 'silent' });
      // two workers' metrics on one store, as two processes would hold them
      const workers = [new Metrics({ clustered: false }), new Metrics({ clustered: false })];
      const labels = { route: '/healthz', method: 'GET', status: '200' };
      workers.forEach((w, i) => {
        for (let n = 0; n <= i; n++) w.requests.cell(labels).observe(0.002);
        w.storeOperations.cell({ operation: 'getBasket', engine: 'sqlite' }).observe(0.0003);
        w.watchTokenCache({ hits: 10 * (i + 1), misses: i + 1 });
        w.watchOutbox({ store, now: () => now, timeoutMs: 1000, log });
      });
      const json = await Promise.all(workers.map((w) => w.registry.getMetricsAsJSON()));
      const m = parsePrometheusText(await AggregatorRegistry.aggregate(json).metrics());

      assert.equal(m.value('basket_metrics_processes'), 2);
      assert.equal(m.value('basket_http_request_duration_seconds_count', labels), 3);
      assert.equal(m.value('basket_http_request_duration_seconds_bucket', { ...labels, le: '0.0025' }), 3);
      assert.equal(m.value('basket_store_operation_duration_seconds_count', { operation: 'getBasket', engine: 'sqlite' }), 2);
      assert.equal(m.value('basket_token_cache_lookups_total', { result: 'hit' }), 30);
      assert.equal(m.value('basket_token_cache_lookups_total', { result: 'miss' }), 3);
      // every worker reads the same outbox: not doubled
      assert.equal(m.value('basket_outbox_depth'), 2);
      assert.equal(m.value('basket_outbox_ready'), 1);
      assert.equal(m.value('basket_outbox_oldest_ready_age_seconds'), 2);
    } finally {
      await store.close();
    }
  });
});
