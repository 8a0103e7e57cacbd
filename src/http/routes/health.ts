/** Liveness, readiness and the service's public keys. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type, type Static } from 'typebox';
import type { ServiceKeys } from '../../auth/service-keys.js';
import { StoreUnavailableError, type StoreLifecycle } from '../../store/store.js';
import { sendError } from '../errors.js';
import { envelope, errorResponses, ref } from '../schemas.js';
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

export const JsonWebKeySetSchema = Type.Object(
  {
    keys: Type.Array(
      Type.Object(
        {
          kty: Type.String(),
          kid: Type.Optional(Type.String()),
          alg: Type.Optional(Type.String()),
          use: Type.Optional(Type.String()),
          crv: Type.Optional(Type.String()),
          x: Type.Optional(Type.String()),
          y: Type.Optional(Type.String()),
        },
        { additionalProperties: true, description: 'A public JWK (RFC 7517)' },
      ),
    ),
  },
  { $id: 'JsonWebKeySet', description: 'The public keys that verify guest tokens issued by this service' },
);

/** The named schemas of these routes (registered once by the app). */
export const healthComponents = [JsonWebKeySetSchema];

export const healthRoutes: FastifyPluginAsyncTypebox<HealthRoutesOptions> = async (app, { store, serviceKeys, timeoutMs }) => {
  const Status = envelope(Type.Object({ status: Type.String() }));
  const tags = ['Health'];
  const security: [] = [];

  app.get(
    '/healthz',
    { schema: { tags, security, operationId: 'healthz', summary: 'The process is up', response: { 200: Status, ...errorResponses }, 'x-errors': [] } },
    async () => ok({ status: 'ok' }),
  );

  app.get(
    '/readyz',
    { schema: { tags, security, operationId: 'readyz', summary: 'The store answers', response: { 200: Status, ...errorResponses }, 'x-errors': ['SERVICE_UNAVAILABLE'] } },
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
    {
      schema: {
        tags,
        security,
        operationId: 'jwks',
        summary: 'Public keys that verify guest tokens issued by this service',
        response: { 200: ref(JsonWebKeySetSchema), ...errorResponses },
        'x-errors': [],
      },
    },
    async (_req, reply) => {
      reply.header('Cache-Control', 'public, max-age=300');
      // jose types `kty` as optional; every key the service exports has one
      return serviceKeys.jwks() as Static<typeof JsonWebKeySetSchema>;
    },
  );
};
