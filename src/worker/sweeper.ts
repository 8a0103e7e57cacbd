/**
 * Purges expired baskets, the shop's checkout baskets, transfer tokens and idempotency records, and tracking events
 * older than EVENTS_TTL, in small batches, so that purging never holds the store for long. Every process may run it:
 * deletes of expired rows are idempotent.
 */
import type { FastifyBaseLogger } from 'fastify';
import type { BasketStore, EventStore, ExpiryStore, ShopStoreHost } from '../store/store.js';

export interface Sweeper {
  /** One full pass; resolves with how many records went (0 when a pass is already running or it stopped). */
  sweep(): Promise<number>;
  /** Stops the timer; a running pass ends after its current batch (each batch is one store call), awaited here. */
  stop(): Promise<void>;
}

export interface SweeperOptions {
  everyMs: number;
  batch: number;
  now: () => number;
  log: FastifyBaseLogger;
  /** Tracking events older than this are purged (EVENTS_TTL); absent: events are not purged here. */
  eventsTtlMs?: number;
}

export function startSweeper(store: BasketStore & ExpiryStore & EventStore & ShopStoreHost, opts: SweeperOptions): Sweeper {
  let running: Promise<number> | null = null;
  let stopped = false;
  async function pass(): Promise<number> {
    let total = 0;
    while (!stopped) {
      let n = (await store.purgeExpiredBaskets(opts.now(), opts.batch)) + (await store.purgeExpired(opts.now(), opts.batch));
      n += await store.shop.purgeExpiredShopBaskets(opts.now(), opts.batch);
      if (opts.eventsTtlMs !== undefined) n += await store.purgeEvents(opts.now() - opts.eventsTtlMs, opts.batch);
      total += n;
      if (n < opts.batch) break;
      await new Promise((r) => setImmediate(r)); // let requests in between batches
    }
    return total;
  }
  function sweep(): Promise<number> {
    if (running || stopped) return Promise.resolve(0);
    running = pass().finally(() => (running = null));
    return running;
  }
  const timer = setInterval(() => {
    sweep().catch((err: unknown) => opts.log.warn({ err }, 'sweep failed'));
  }, opts.everyMs);
  timer.unref();
  return {
    sweep,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running?.catch(() => undefined);
    },
  };
}
