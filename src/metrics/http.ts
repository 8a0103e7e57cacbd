/**
 * The HTTP side of the metrics: every answer timed by route pattern, method and status, and `GET /metrics`.
 *
 * Timed from the first onRequest hook to onSend (the answer handed to the socket), not with an onResponse hook:
 * onResponse makes Fastify put 'finish' and 'error' listeners on every response (~1 µs of CPU of a ~16 µs
 * trivial GET in a scratch measurement), while onRequest + onSend cost next to nothing. The route label is the pattern
 * (`/v2/baskets/users/:userId`), never the URL: user ids must not become labels; requests without a route count
 * as `not_found`.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import { BasketError } from '../domain/errors.js';
import type { LatencyCell } from './latency-histogram.js';
import type { Metrics } from './metrics.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** performance.now() when the request reached the first hook (0: it did not). */
    metricsStart: number;
  }
}

const NOT_FOUND = 'not_found';

/** Adds the request timing to every route; call it before any other onRequest hook so that it runs first. */
export function installRequestMetrics(app: FastifyInstance, metrics: Metrics): void {
  const histogram = metrics.requests;
  // route pattern → method → status → cell: three lookups, no string built per request
  const cells = new Map<string, Map<string, Map<number, LatencyCell>>>();
  const cellOf = (route: string, method: string, status: number): LatencyCell => {
    let byMethod = cells.get(route);
    if (byMethod === undefined) cells.set(route, (byMethod = new Map()));
    let byStatus = byMethod.get(method);
    if (byStatus === undefined) byMethod.set(method, (byStatus = new Map()));
    let cell = byStatus.get(status);
    if (cell === undefined) byStatus.set(status, (cell = histogram.cell({ route, method, status: String(status) })));
    return cell;
  };

  app.decorateRequest('metricsStart', 0);
  app.addHook('onRequest', (request, _reply, done) => {
    request.metricsStart = performance.now();
    done();
  });
  app.addHook('onSend', (request, reply, payload, done) => {
    const start = request.metricsStart;
    const route = request.is404 ? NOT_FOUND : (request.routeOptions.url ?? NOT_FOUND);
    cellOf(route, request.method, reply.statusCode).observe(start === 0 ? 0 : (performance.now() - start) / 1000);
    done(null, payload);
  });
}

export interface MetricsRouteOptions {
  metrics: Metrics;
  /** METRICS_TOKEN: the bearer token a scrape must send; null: open. */
  token: string | null;
}

const digest = (s: string) => createHash('sha256').update(s).digest();
const BEARER = /^Bearer[ \t]+(\S+)[ \t]*$/i;

/** `GET /metrics`: the Prometheus text; with a token configured, 401 without `Authorization: Bearer <token>`. */
export const metricsRoutes: FastifyPluginAsync<MetricsRouteOptions> = async (app, { metrics, token }) => {
  const expected = token === null ? null : digest(token);

  // operators' endpoint, not part of the device API: left out of the OpenAPI document
  app.get('/metrics', { schema: { hide: true } }, async (request, reply) => {
    if (expected !== null) {
      const given = BEARER.exec(request.headers.authorization ?? '')?.[1];
      // digests of equal length: the comparison takes the same time whatever was sent
      if (given === undefined || !timingSafeEqual(digest(given), expected)) {
        reply.header('WWW-Authenticate', 'Bearer realm="metrics"');
        throw new BasketError('AUTHORIZATION_HEADER_INVALID', 'Metrics token missing or invalid');
      }
    }
    let text: string;
    try {
      text = await metrics.text();
    } catch (err) {
      request.log.warn({ err }, 'metrics: the scrape could not be answered');
      throw new BasketError('SERVICE_UNAVAILABLE', 'Metrics could not be collected; try again');
    }
    return reply.type(metrics.contentType).send(text);
  });
};
