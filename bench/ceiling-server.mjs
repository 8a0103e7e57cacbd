// The ceiling: a bare Fastify server answering a fixed ~300-byte JSON. Nothing can be faster than this on
// the same machine, so every scenario is reported as a ratio of it. Prints its port on stdout.
import Fastify from 'fastify';

const body = {
  data: {
    expires: '2026-12-24T12:00:00Z',
    lastChanged: '2026-11-24T12:00:00Z',
    cart: [
      { productId: 'prod-123', count: 2 },
      { productId: 'prod-456', count: 1 },
      { productId: 'shoe-42', count: 1, variant: '42', mainProductIdentifier: 'shoe' },
    ],
    saved: [{ productId: 'prod-789', count: 1 }],
    checkout: [],
  },
  nextToken: null,
  error: null,
};
const payload = JSON.stringify(body);
const app = Fastify({ logger: false });
app.get('/*', async (_req, reply) => reply.header('content-type', 'application/json; charset=utf-8').send(payload));
// the `ceiling-assign` diagnostic: a POST whose JSON body Fastify parses, answered with the same payload
app.post('/*', async (_req, reply) => reply.header('content-type', 'application/json; charset=utf-8').send(payload));
const address = await app.listen({ host: '127.0.0.1', port: 0 });
console.log(`ceiling listening on ${address} (${Buffer.byteLength(payload)} bytes)`);
