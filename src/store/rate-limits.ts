/**
 * The counter store behind the rate limits (issue 17): an atomic fixed-window counter shared by every process on
 * one store, so that `WORKERS=n` or n machines never multiply a limit. The HTTP layer leases units from it in
 * chunks (src/http/rate-limit/limiter.ts); this seam only counts.
 *
 * Windows are fixed and aligned to the epoch (`[k·windowMs, (k+1)·windowMs)`), so every process agrees on them
 * without talking to the others. Each engine keeps a counter per (key, window) and forgets old windows by itself.
 */
import { ConfigError } from '../config.js';

export interface TakeResult {
  /** Units granted by this call: min(want, max − used before), never negative. */
  granted: number;
  /** The window's count after this call (at most max, unless max was lowered since). */
  used: number;
  /** End of the window holding `now` (epoch ms): when the count starts again from 0. */
  resetAt: number;
}

export interface RateLimitStore {
  /**
   * Adds up to `want` units to `key`'s counter of the window (of length `windowMs`) containing `now`, never past
   * `max`, atomically across every process on the store. `want` ≥ 1, `max` ≥ 1.
   */
  take(key: string, windowMs: number, want: number, max: number, now: number): Promise<TakeResult>;
  close(): Promise<void>;
}

/** Start of the window of length windowMs that holds now. */
export function windowStart(now: number, windowMs: number): number {
  return now - (now % windowMs);
}

/** The counts a take leads to from `used` (the one rule every engine's atomic step implements). */
export function grant(used: number, want: number, max: number): { granted: number; used: number } {
  const granted = Math.max(0, Math.min(want, max - used));
  return { granted, used: used + granted };
}

/** How many takes between two bounded purges of expired windows (SQL engines; Redis expires keys itself). */
export const PURGE_EVERY = 256;
/** Most expired windows one purge deletes: a purge stays short, and 2 per take outpaces the 1 a take can add. */
export const PURGE_BATCH = 512;
/** How long one take may wait on its engine before it fails (and the limiter fails open). */
export const TAKE_TIMEOUT_MS = 1000;

/**
 * Opens the counter store that goes with STORE_URL: a table next to the SQLite file, a table in the PostgreSQL
 * schema, or keys under the Redis prefix (single Redis or Cluster).
 */
export async function openRateLimitStore(storeUrl: string): Promise<RateLimitStore> {
  if (storeUrl.startsWith('sqlite:')) {
    const file = storeUrl.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, '');
    if (file === '') throw new ConfigError('STORE_URL=sqlite: needs a file path, e.g. sqlite:./data/basket.db');
    const { openSqliteRateLimits } = await import('./sqlite/rate-limits.js');
    return openSqliteRateLimits(file);
  }
  if (storeUrl.startsWith('postgres://') || storeUrl.startsWith('postgresql://')) {
    const { openPostgresRateLimits } = await import('./postgres/rate-limits.js');
    return openPostgresRateLimits(storeUrl);
  }
  if (storeUrl.startsWith('redis://') || storeUrl.startsWith('rediss://') || storeUrl.startsWith('redis-cluster://')) {
    const { openRedisRateLimits } = await import('./redis/rate-limits.js');
    return openRedisRateLimits(storeUrl);
  }
  throw new ConfigError('STORE_URL names a store without a rate-limit counter (supported: sqlite:, postgres://, redis://, rediss://, redis-cluster://)');
}
