/**
 * The cheap local half of the rate limits: units are leased in chunks from the shared counter store
 * (src/store/rate-limits.ts) and spent here, so a busy key costs one store round trip per chunk, not per request,
 * and a request with a lease in hand costs a Map lookup and a decrement (no promise, no store call).
 *
 * Why this never admits more than `max` per window over all processes: every admitted request spends a unit the
 * store granted, and the store never grants past `max`. The price is the other way round: units a process leased
 * and did not spend before the window ended are lost, so all processes together may admit a little less than
 * `max` (at most a chunk less, per process, ≈ 5 % each). Once the store has granted its last unit of a window,
 * the key is refused locally until the window ends, with no store call.
 *
 * A counter store that fails must not take the service down: the limiter then admits everything for
 * FAIL_OPEN_MS without asking the store (so a hung or dead store costs no request a wait) and logs that, once per
 * failure period.
 */
import type { FastifyBaseLogger } from 'fastify';
import type { RateLimitStore, TakeResult } from '../../store/rate-limits.js';

export interface Rate {
  /** Units per window; 0 = no limit. */
  readonly max: number;
  readonly windowMs: number;
}

/** What a refused request is told: the limit and when its window ends. */
export interface Refusal {
  readonly max: number;
  readonly windowMs: number;
  readonly resetAt: number;
}

/** true: admitted. */
export type Verdict = true | Refusal;

/** How long the limiters admit without asking a counter store that failed. */
export const FAIL_OPEN_MS = 5000;
/** Most keys one limiter remembers (~150 bytes each); beyond, the oldest are forgotten (never over-admits). */
export const MAX_KEYS = 100_000;

/** Units leased per store call: ≈ max/20, at least 1. */
export const chunkOf = (max: number): number => Math.max(1, Math.floor(max / 20));

/** The shared counter store, behind a breaker that fails open. One per server, shared by its limiters. */
export class Counter {
  #openUntil = 0;
  #admittedUnchecked = 0;

  constructor(
    private readonly store: RateLimitStore,
    private readonly log: FastifyBaseLogger,
  ) {}

  /** Whether the store is being skipped after a failure (counts the request admitted without it). */
  failingOpen(now: number): boolean {
    if (this.#openUntil === 0) return false;
    if (now < this.#openUntil) {
      this.#admittedUnchecked++;
      return true;
    }
    this.#openUntil = 0;
    this.log.info({ admittedUnchecked: this.#admittedUnchecked }, 'rate-limit store: trying again');
    this.#admittedUnchecked = 0;
    return false;
  }

  /** The store's answer, or null when it failed (the breaker is then open for FAIL_OPEN_MS). Never rejects. */
  async take(key: string, windowMs: number, want: number, max: number, now: number): Promise<TakeResult | null> {
    try {
      return await this.store.take(key, windowMs, want, max, now);
    } catch (err) {
      // concurrent takes that fail together log once
      if (this.#openUntil === 0) this.log.warn({ err }, `rate-limit store failed: admitting requests without counting for ${FAIL_OPEN_MS / 1000} s`);
      this.#openUntil = now + FAIL_OPEN_MS;
      return null;
    }
  }
}

/** One key's state for its current window; it is also the Refusal answered once the window is spent. */
class Lease implements Refusal {
  /** Units leased and not yet spent. */
  left = 0;
  /** The store has granted its last unit of this window: once `left` is spent, refuse without asking it. */
  spent = false;
  pending: Promise<void> | null = null;

  constructor(
    readonly max: number,
    readonly windowMs: number,
    readonly resetAt: number,
  ) {}
}

export class Limiter {
  readonly #leases = new Map<string, Lease>();

  /**
   * @param namespace prefix of this limiter's keys in the counter store (e.g. `ip-guest:`)
   */
  constructor(
    private readonly namespace: string,
    private readonly counter: Counter,
    private readonly now: () => number,
    private readonly maxKeys = MAX_KEYS,
  ) {}

  /** Keys remembered (tests, and a quick "nothing recorded" check on the hot path). */
  get size(): number {
    return this.#leases.size;
  }

  /**
   * Spends one unit of `key`'s window: true when admitted, the Refusal when the window is spent; a promise only
   * when the store must be asked (no lease in hand).
   */
  take(key: string, rate: Rate): Verdict | Promise<Verdict> {
    if (rate.max === 0) return true;
    const now = this.now();
    let lease = this.#leases.get(key);
    if (lease === undefined || lease.resetAt <= now || lease.windowMs !== rate.windowMs) lease = this.#fresh(key, rate, now);
    if (lease.left > 0) {
      lease.left--;
      return true;
    }
    if (lease.spent) return lease;
    if (this.counter.failingOpen(now)) return true;
    return this.#refill(key, lease, rate, now);
  }

  /** The Refusal while `key`'s window is spent (nothing asked of the store), else undefined. */
  refused(key: string): Refusal | undefined {
    const lease = this.#leases.get(key);
    return lease !== undefined && lease.spent && lease.left === 0 && lease.resetAt > this.now() ? lease : undefined;
  }

  #fresh(key: string, rate: Rate, now: number): Lease {
    const resetAt = now - (now % rate.windowMs) + rate.windowMs;
    const lease = new Lease(rate.max, rate.windowMs, resetAt);
    // re-inserted, so that the Map's order is the order windows began in: the oldest are dropped first
    this.#leases.delete(key);
    if (this.#leases.size >= this.maxKeys) this.#shed(now);
    this.#leases.set(key, lease);
    return lease;
  }

  /** Leases the next chunk (one store call shared by every request of the key that waits for it), then retries. */
  #refill(key: string, lease: Lease, rate: Rate, now: number): Promise<Verdict> {
    lease.pending ??= this.counter.take(this.namespace + key, rate.windowMs, chunkOf(rate.max), rate.max, now).then((r) => {
      lease.pending = null;
      if (r === null) return;
      // r.resetAt differs only when the clock passed the window's end meanwhile: the lease is stale then anyway
      if (r.resetAt === lease.resetAt) {
        lease.left += r.granted;
        if (r.used >= rate.max || r.granted === 0) lease.spent = true;
      }
    });
    // every waiter tries again: a unit leased, the window spent, or (the store failed) admitted failing open
    return lease.pending.then(() => this.take(key, rate));
  }

  /** Forgets windows that have ended; if that is not enough, the oldest tenth (losing only unspent units). */
  #shed(now: number): void {
    this.sweep(now);
    if (this.#leases.size < this.maxKeys * 0.9) return;
    let drop = this.#leases.size - Math.floor(this.maxKeys * 0.9);
    for (const key of this.#leases.keys()) {
      if (drop-- <= 0) break;
      this.#leases.delete(key);
    }
  }

  /** Forgets every window that has ended. */
  sweep(now: number = this.now()): void {
    for (const [key, lease] of this.#leases) {
      if (lease.resetAt <= now && lease.pending === null) this.#leases.delete(key);
    }
  }
}
