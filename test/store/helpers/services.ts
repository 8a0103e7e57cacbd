/**
 * Test helpers for the server-backed stores: URLs of the local PostgreSQL and Redis (override with
 * PG_TEST_URL / REDIS_TEST_URL), a fresh schema or key prefix per run, and a TCP proxy that a test can cut to
 * simulate the server going away.
 */
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import pg from 'pg';
import { Redis } from 'ioredis';

export const PG_URL = process.env.PG_TEST_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const REDIS_URL = process.env.REDIS_TEST_URL ?? 'redis://127.0.0.1:6379';

export const runId = (): string => `${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;

/** A schema name unique to this run; the adapter creates it, dropSchema removes it with everything in it. */
export const newSchema = (): string => `basket_test_${runId()}`;

export function pgUrlWithSchema(schema: string, base: string = PG_URL): string {
  const url = new URL(base);
  url.searchParams.set('schema', schema);
  return url.toString();
}

export async function dropSchema(schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(schema)} CASCADE`);
  } finally {
    await client.end();
  }
}

/** A key prefix unique to this run. */
export const newPrefix = (): string => `basket-test:${runId()}:`;

/** Deletes every key under `prefix` on a single Redis. */
export async function deletePrefix(url: string, prefix: string): Promise<void> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  try {
    await deleteMatching(redis, prefix);
  } finally {
    redis.disconnect();
  }
}

export async function deleteMatching(redis: Redis, prefix: string): Promise<number> {
  let cursor = '0';
  let deleted = 0;
  // Glob metacharacters in the prefix are escaped so that only our keys match.
  const pattern = `${prefix.replace(/[*?[\]\\]/g, (c) => `\\${c}`)}*`;
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    for (const key of keys) deleted += await redis.unlink(key);
  } while (cursor !== '0');
  return deleted;
}

/**
 * Forwards TCP connections to host:port until cut() destroys every connection and stops listening. freeze() makes
 * it a server that hangs: connections stay open and new ones are accepted, but nothing is forwarded either way
 * until thaw(), which delivers what was held back, in order.
 */
export interface Proxy {
  port: number;
  cut(): Promise<void>;
  freeze(): void;
  thaw(): void;
}

export async function startProxy(host: string, port: number): Promise<Proxy> {
  const sockets = new Set<net.Socket>();
  let frozen = false;
  const held: (() => void)[] = [];
  const forward = (from: net.Socket, to: net.Socket): void => {
    from.on('data', (chunk: Buffer) => {
      const send = (): void => {
        if (!to.destroyed) to.write(chunk);
      };
      if (frozen) held.push(send);
      else send();
    });
  };
  const server = net.createServer((client) => {
    const upstream = net.connect(port, host);
    sockets.add(client).add(upstream);
    forward(client, upstream);
    forward(upstream, client);
    const drop = (): void => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('proxy has no port');
  return {
    port: address.port,
    cut: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
    freeze: () => {
      frozen = true;
    },
    thaw: () => {
      frozen = false;
      for (const send of held.splice(0)) send();
    },
  };
}
