/**
 * Response compression (issue 21) for the few large answers: the OpenAPI document, the docs assets, the metrics.
 * @fastify/compress adds hooks to every route it sees (even with `global: false`, a hook per route to decorate
 * the reply), so it is registered inside a scope that holds only those routes: the device routes, whose JSON is
 * small and hot, never meet it. Within the scope, answers under 1 KB stay uncompressed (the plugin's threshold).
 * Request bodies are never decompressed (no route here takes one; elsewhere BODY_LIMIT counts the bytes sent).
 */
import compress from '@fastify/compress';
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';

/** A plugin registering `routes` in a scope of their own where answers of 1 KB or more are compressed. */
export function compressed(routes: (scope: FastifyInstance) => PromiseLike<unknown>): FastifyPluginAsync {
  return async (scope) => {
    await scope.register(compress, { globalDecompression: false, threshold: 1024 });
    await routes(scope);
  };
}
