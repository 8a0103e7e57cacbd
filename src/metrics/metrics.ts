/**
 * The service's Prometheus metrics (issue 21), one set per server:
 *   basket_http_request_duration_seconds{route,method,status}   every answer, by route pattern (http.ts)
 *   basket_store_operation_duration_seconds{operation,engine}  every store call (store.ts)
 *   basket_store_unavailable_total{operation,engine}           store calls that failed as unavailable (503)
 *   basket_outbox_depth, basket_outbox_ready, basket_outbox_oldest_ready_age_seconds   read at scrape time
 *   basket_token_cache_lookups_total{result="hit"|"miss"}      tokens answered from the cache / verified in full
 *   basket_metrics_processes                                   processes covered (WORKERS, summed over the cluster)
 * plus prom-client's process and Node.js metrics (process_*, nodejs_*), once per process.
 *
 * The hot paths only add to plain numbers (latency cells, the token verifier's counts); prom-client turns them into
 * the exposition text at scrape time. With WORKERS > 1 a scrape answers the sum over every worker (cluster.ts).
 */
import cluster from 'node:cluster';
import type { FastifyBaseLogger } from 'fastify';
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import type { TokenCacheCounts } from '../auth/tokens.js';
import type { OutboxStats, OutboxStore } from '../store/store.js';
import { within } from '../http/routes/health.js';
import { askPrimaryForMetrics, shareWithPrimary } from './cluster.js';
import { LatencyHistogram } from './latency-histogram.js';

let processRegistry: Registry | undefined;

/**
 * prom-client's default metrics, registered once per process: they install process-wide observers (GC, event-loop
 * delay) that a registry per server would multiply (tests start many servers in one process).
 */
function processMetrics(): Registry {
  if (processRegistry === undefined) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}

export interface MetricsOptions {
  /**
   * Answer scrapes with the sum over the cluster's workers (asked of the primary over IPC). Default: this process
   * is a node:cluster worker (WORKERS > 1).
   */
  clustered?: boolean;
  /** How long the answer of the other workers is awaited (ms). */
  clusterTimeoutMs?: number;
}

export interface OutboxWatch {
  store: OutboxStore;
  now: () => number;
  /** The store deadline (STORE_TIMEOUT): a scrape does not wait longer for the outbox figures. */
  timeoutMs: number;
  log: FastifyBaseLogger;
}

export class Metrics {
  readonly registry = new Registry();
  readonly contentType = Registry.PROMETHEUS_CONTENT_TYPE;
  readonly requests = new LatencyHistogram(
    'basket_http_request_duration_seconds',
    'Time from a request arriving to its answer being sent, by route pattern (not_found: no route), method and status',
    ['route', 'method', 'status'] as const,
  ).registerIn(this.registry);
  readonly storeOperations = new LatencyHistogram(
    'basket_store_operation_duration_seconds',
    'Duration of store calls by operation (Store method) and engine (sqlite, postgres, redis)',
    ['operation', 'engine'] as const,
  ).registerIn(this.registry);
  readonly storeUnavailable = new Counter({
    name: 'basket_store_unavailable_total',
    help: 'Store calls that failed because the store did not answer (deadline missed, connection lost): answered 503',
    labelNames: ['operation', 'engine'] as const,
    registers: [this.registry],
  });
  readonly #clustered: boolean;
  readonly #clusterTimeoutMs: number;

  constructor(options: MetricsOptions = {}) {
    this.#clustered = options.clustered ?? cluster.isWorker;
    this.#clusterTimeoutMs = options.clusterTimeoutMs ?? 8000;
    // 1 per process, summed over the workers: tells how many processes a scrape's figures cover
    new Gauge({
      name: 'basket_metrics_processes',
      help: 'Server processes whose metrics this answer covers (the workers with WORKERS > 1, else 1)',
      aggregator: 'sum',
      registers: [this.registry],
    }).set(1);
    if (this.#clustered) shareWithPrimary([processMetrics(), this.registry]);
    else processMetrics();
  }

  /** Exposes the token verifier's cache counts (read at scrape time). */
  watchTokenCache(counts: TokenCacheCounts): void {
    new Counter({
      name: 'basket_token_cache_lookups_total',
      help: 'Bearer tokens answered from the verified-token cache (hit) or verified in full (miss)',
      labelNames: ['result'] as const,
      registers: [this.registry],
      collect() {
        this.reset();
        this.inc({ result: 'hit' }, counts.hits);
        this.inc({ result: 'miss' }, counts.misses);
      },
    });
  }

  /**
   * Exposes the outbox's depth and lag, read from the store at scrape time within the store deadline. Every worker
   * reads the same store, so the cluster sum takes the largest figure, not the total. A failed read gives NaN
   * (and a warning), never a stale figure or a failed scrape.
   */
  watchOutbox({ store, now, timeoutMs, log }: OutboxWatch): void {
    let reading: Promise<OutboxStats | null> | null = null;
    // the three gauges collect in the same turn of a scrape: one store read serves them all
    const read = (): Promise<OutboxStats | null> => {
      reading ??= within(store.outboxStats(now()), timeoutMs)
        .catch((err: unknown) => {
          log.warn({ err }, 'metrics: the outbox figures could not be read');
          return null;
        })
        .finally(() => {
          reading = null;
        });
      return reading;
    };
    const gauge = (name: string, help: string, pick: (s: OutboxStats) => number) =>
      new Gauge({
        name,
        help,
        aggregator: 'max',
        registers: [this.registry],
        async collect() {
          const stats = await read();
          this.set(stats === null ? Number.NaN : pick(stats));
        },
      });
    gauge('basket_outbox_depth', 'Messages in the outbox: ready, scheduled (checkout expiry, payment deadlines) or being handled', (s) => s.depth);
    gauge('basket_outbox_ready', 'Outbox messages a worker could take now (due and not being handled)', (s) => s.ready);
    gauge(
      'basket_outbox_oldest_ready_age_seconds',
      'How long the oldest ready outbox message has waited for a worker since it became due (0: none waiting)',
      (s) => s.oldestAgeMs / 1000,
    );
  }

  /** The exposition text: this process's metrics, or with WORKERS > 1 the sum over every worker. */
  async text(): Promise<string> {
    if (this.#clustered) return askPrimaryForMetrics(this.#clusterTimeoutMs);
    return (await processMetrics().metrics()) + (await this.registry.metrics());
  }
}
