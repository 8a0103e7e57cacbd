/**
 * Purges expired baskets, transfer tokens and idempotency records in small batches, so that purging never
 * holds the store for long. Every process may run it: deletes of expired rows are idempotent.
 */
import type { FastifyBaseLogger } from 'fastify';
import type { BasketStore, ExpiryStore } from '../store/store.js';

export interface Sweeper {
  /** One full pass; resolves with how many records went. */
  sweep(): Promise<number>;
  stop(): void;
}

export function startSweeper(store: BasketStore & ExpiryStore, opts: { everyMs: number; batch: number; now: () => number; log: FastifyBaseLogger }): Sweeper {
  let running = false;
  async function sweep(): Promise<number> {
    if (running) return 0;
    running = true;
    let total = 0;
    try {
      for (;;) {
        const n = (await store.purgeExpiredBaskets(opts.now(), opts.batch)) + (await store.purgeExpired(opts.now(), opts.batch));
        total += n;
        if (n < opts.batch) break;
        await new Promise((r) => setImmediate(r)); // let requests in between batches
      }
    } finally {
      running = false;
    }
    return total;
  }
  const timer = setInterval(() => {
    sweep().catch((err: unknown) => opts.log.warn({ err }, 'sweep failed'));
  }, opts.everyMs);
  timer.unref();
  return { sweep, stop: () => clearInterval(timer) };
}
