/** Liveness, readiness and the service's public keys. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { ServiceKeys } from '../../auth/service-keys.js';
import { StoreUnavailableError, type StoreLifecycle } from '../../store/store.js';
import { sendError } from '../errors.js';
import { envelope, errorResponses } from '../schemas.js';
import { ok } from './baskets.js';

export interface HealthRoutesOptions {
  store: StoreLifecycle;
  serviceKeys: ServiceKeys;
  /** How long /readyz waits for the store (STORE_TIMEOUT). */
  timeoutMs: number;
}

/** `promise`, or StoreUnavailableError once `ms` have passed without its answer. */
export function within<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new StoreUnavailableError(`the store did not answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

export const healthRoutes: FastifyPluginAsyncTypebox<HealthRoutesOptions> = async (app, { store, serviceKeys, timeoutMs }) => {
  const Status = envelope(Type.Object({ status: Type.String() }));
  const tags = ['Health'];

  app.get('/healthz', { schema: { tags, operationId: 'healthz', summary: 'The process is up', response: { 200: Status } } }, async () => ok({ status: 'ok' }));

  app.get(
    '/readyz',
    { schema: { tags, operationId: 'readyz', summary: 'The store answers', response: { 200: Status, ...errorResponses } } },
    async (req, reply) => {
      try {
        // the store's own deadlines bound a ping too; this one also covers a wait they do not (a pool, a reconnect)
        await within(store.ping(), timeoutMs);
      } catch (err) {
        req.log.warn({ err }, 'readiness check failed');
        reply.header('Retry-After', '1');
        return sendError(reply, 'SERVICE_UNAVAILABLE', 'Store not reachable');
      }
      return ok({ status: 'ready' });
    },
  );

  app.get(
    '/.well-known/jwks.json',
    { schema: { tags, operationId: 'jwks', summary: 'Public keys that verify guest tokens issued by this service' } },
    async (_req, reply) => {
      reply.header('Cache-Control', 'public, max-age=300');
      return serviceKeys.jwks();
    },
  );
};
