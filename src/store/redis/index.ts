/**
 * Redis adapter of the Store interface (ioredis), for a single Redis or a Redis Cluster, composed of one module per
 * concern.
 *
 * Atomicity: each multi-key script touches one hash slot only. Operations that span slots (a reservation over
 * several products; an order plus its payment-reference index; a record plus its expiry index) are sequences of
 * single-slot scripts, each idempotent and ordered so that a crash in between leaves nothing a reader would
 * trust: indexes are written first and verified on read.
 *
 *   connection.ts     the clients, cmd()/script(), the mapping of connection failures to StoreUnavailableError
 *   keys.ts           the key layout          schema.ts  its version        scripts/  the Lua scripts, per concern
 *   notifications.ts  the subscription that reports other processes' basket writes
 *   baskets.ts, catalogue.ts, reservations.ts, transfers.ts, orders.ts, outbox.ts, idempotency.ts, expiry.ts,
 *   comfort.ts        one concern each
 *   shop/             the shop surface's store (`store.shop`), on the same clients
 */
import { parseRedisUrl } from './url.js';
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import type { Store } from '../store.js';
import { ComposedStore, type StoreParts } from '../shared/composed.js';
import { RedisBaskets } from './baskets.js';
import { RedisCatalogue } from './catalogue.js';
import { RedisComfort } from './comfort.js';
import { mapError, RedisConnection, type Client } from './connection.js';
import { RedisEvents } from './events.js';
import { RedisExpiry } from './expiry.js';
import { RedisIdempotency } from './idempotency.js';
import { RedisNotifications } from './notifications.js';
import { RedisOrders } from './orders.js';
import { RedisOutbox } from './outbox.js';
import { RedisReservations } from './reservations.js';
import { RedisShopStore } from './shop/index.js';
import { checkLayout } from './schema.js';
import { RedisTransfers } from './transfers.js';

export interface RedisStoreOptions {
  /** Prefix of every key and of the notification channel. Default: the `prefix` URL parameter, else `basket:`. */
  prefix?: string;
  /** Upper bound for one command. Default 5000 ms. */
  commandTimeoutMs?: number;
  /** Upper bound for connecting. Default 5000 ms. */
  connectTimeoutMs?: number;
}

/** The concern modules of this engine, as `ComposedStore` holds them. */
interface RedisStoreParts extends StoreParts {
  baskets: RedisBaskets;
  catalogue: RedisCatalogue;
  reservations: RedisReservations;
  transfers: RedisTransfers;
  orders: RedisOrders;
  outbox: RedisOutbox;
  idempotency: RedisIdempotency;
  expiry: RedisExpiry;
  comfort: RedisComfort;
  events: RedisEvents;
  shop: RedisShopStore;
}

/** Each call goes to the module of its concern (ComposedStore); what is this engine's own is here. */
class RedisStore extends ComposedStore<RedisStoreParts> {
  readonly kind = 'redis' as const;
  private readonly conn: RedisConnection;
  private readonly notifications: RedisNotifications;

  constructor(client: Client, subscriber: Client, prefix: string) {
    const conn = new RedisConnection(client, subscriber, prefix);
    const notifications = new RedisNotifications(conn);
    super({
      baskets: new RedisBaskets(conn, notifications),
      catalogue: new RedisCatalogue(conn),
      reservations: new RedisReservations(conn),
      transfers: new RedisTransfers(conn),
      orders: new RedisOrders(conn),
      outbox: new RedisOutbox(conn),
      idempotency: new RedisIdempotency(conn),
      expiry: new RedisExpiry(conn),
      comfort: new RedisComfort(conn),
      events: new RedisEvents(conn),
      shop: new RedisShopStore(conn),
    });
    this.conn = conn;
    this.notifications = notifications;
  }

  async init(): Promise<void> {
    await checkLayout(this.conn);
    await this.notifications.subscribe();
  }

  async close(): Promise<void> {
    const { conn } = this;
    if (conn.closed) return;
    conn.closed = true;
    await Promise.allSettled([conn.client.quit(), conn.subscriber.quit()]);
    conn.client.disconnect();
    conn.subscriber.disconnect();
  }

  async ping(): Promise<void> {
    await this.conn.cmd((c) => c.ping());
  }

}

const PREFIX = /^[^{}\s]{0,100}$/;

/**
 * Connects (single Redis or Cluster), checks the key-layout version and subscribes to change notifications.
 * Throws StoreUnavailableError when Redis cannot be reached.
 */
export async function openRedisStore(url: string, options: RedisStoreOptions = {}): Promise<Store> {
  const parsed = parseRedisUrl(url);
  const prefix = options.prefix ?? parsed.prefix ?? 'basket:';
  if (!PREFIX.test(prefix)) throw new Error('Redis key prefix must not contain braces or spaces');
  const common: RedisOptions = {
    username: parsed.username,
    password: parsed.password,
    ...(parsed.tls ? { tls: {} } : {}),
    connectTimeout: options.connectTimeoutMs ?? 5000,
    commandTimeout: options.commandTimeoutMs ?? 5000,
    // Fail fast: a request while Redis is down errors at once (503) instead of queueing.
    maxRetriesPerRequest: 1,
    lazyConnect: true,
  };
  let client: Client;
  let subscriber: Client;
  if (parsed.cluster) {
    const clusterOptions: ClusterOptions = {
      redisOptions: common,
      enableOfflineQueue: false,
      enableAutoPipelining: true,
      lazyConnect: true,
      clusterRetryStrategy: (times) => Math.min(100 * times, 2000),
      slotsRefreshTimeout: options.connectTimeoutMs ?? 5000,
    };
    client = new Cluster(parsed.nodes, clusterOptions);
    subscriber = new Cluster(parsed.nodes, { ...clusterOptions, enableAutoPipelining: false });
  } else {
    const node = parsed.nodes[0];
    if (node === undefined || parsed.nodes.length !== 1) throw new Error('redis:// takes one host; use redis-cluster:// for several');
    const single: RedisOptions = {
      ...common,
      host: node.host,
      port: node.port,
      db: parsed.db,
      enableOfflineQueue: false,
      retryStrategy: (times) => Math.min(100 * times, 2000),
    };
    client = new Redis({ ...single, enableAutoPipelining: true });
    subscriber = new Redis(single);
  }
  const store = new RedisStore(client, subscriber, prefix);
  try {
    await Promise.all([client.connect(), subscriber.connect()]);
    await store.init();
    return store;
  } catch (error) {
    await store.close();
    throw mapError(error);
  }
}
export { parseRedisUrl } from './url.js';
