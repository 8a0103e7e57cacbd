/**
 * Rate-limit counters on SQLite: a `rate_limits` table in a file of its own next to the store's
 * (`basket.db` → `basket.rate-limits.db`), shared by every process on the store file (WORKERS=n).
 *
 * Why a file of its own and not a table in the store's file: the store keeps parsed baskets cached for as long as
 * `PRAGMA data_version` stays put, and that changes on every commit of another connection to the same file; a
 * counter commit there would empty the basket cache each time. A file of its own also has its own write lock, so
 * counting never queues behind (or holds up) a basket group commit.
 *
 * One take is one `INSERT … ON CONFLICT DO UPDATE … RETURNING` (atomic under SQLite's write lock); the takes of one
 * event-loop turn share one IMMEDIATE transaction (TurnBatch), so a burst of first requests (every user's first
 * of a window) costs a commit per turn, not per user. The connection does not wait in SQLite's busy handler,
 * which sleeps on the event loop: a batch refused the lock by another process tries again on the next turn, then
 * every millisecond, and a take fails after TAKE_TIMEOUT_MS.
 */
import path from 'node:path';
import { mkdirSync } from 'node:fs';
import Database from 'better-sqlite3';
import { TurnBatch } from '../shared/turn-batch.js';
import { isBusy } from './connection.js';
import { PURGE_BATCH, PURGE_EVERY, TAKE_TIMEOUT_MS, windowStart, type RateLimitStore, type TakeResult } from '../rate-limits.js';

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS rate_limits (
    key          TEXT    NOT NULL,
    window_start INTEGER NOT NULL,
    used         INTEGER NOT NULL,
    granted      INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    PRIMARY KEY (key, window_start)
  ) WITHOUT ROWID;
  CREATE INDEX IF NOT EXISTS rate_limits_expires ON rate_limits (expires_at);
`;

// SET expressions all see the row as it was, so `granted` is computed from the old `used`. A lowered max never
// lowers a count: max(used, @max).
const TAKE = `
  INSERT INTO rate_limits (key, window_start, used, granted, expires_at)
  VALUES (@key, @start, min(@want, @max), min(@want, @max), @expires)
  ON CONFLICT (key, window_start) DO UPDATE SET
    used = min(used + @want, max(used, @max)),
    granted = min(used + @want, max(used, @max)) - used
  RETURNING used, granted`;

const PURGE = `
  DELETE FROM rate_limits WHERE (key, window_start) IN
    (SELECT key, window_start FROM rate_limits WHERE expires_at <= ? LIMIT ${PURGE_BATCH})`;

/** The counter file that goes with a store file: `data/basket.db` → `data/basket.rate-limits.db`. */
export function rateLimitFile(storeFile: string): string {
  if (storeFile === ':memory:' || storeFile === '') return ':memory:';
  const { dir, name, ext } = path.parse(storeFile);
  return path.join(dir, `${name}.rate-limits${ext}`);
}

const setTimeoutOrImmediate = (attempt: number, fn: () => void): void => void (attempt === 0 ? setImmediate(fn) : setTimeout(fn, 1));

interface PendingTake {
  params: { key: string; start: number; want: number; max: number; expires: number };
  now: number;
  deadline: number;
  attempt: number;
  resolve: (result: TakeResult) => void;
  reject: (error: unknown) => void;
}

/** Takes per transaction at most: a long batch would hold the counters' write lock from other processes. */
const BATCH_MAX = 256;

class SqliteRateLimits implements RateLimitStore {
  readonly #take: Database.Statement<{ key: string; start: number; want: number; max: number; expires: number }, { used: number; granted: number }>;
  readonly #purge: Database.Statement<[number]>;
  readonly #takeAll: Database.Transaction<(batch: PendingTake[]) => { used: number; granted: number }[]>;
  readonly #batch = new TurnBatch<PendingTake>(BATCH_MAX, (batch) => this.#run(batch));
  #takes = 0;

  constructor(private readonly db: Database.Database) {
    this.#take = db.prepare(TAKE);
    this.#purge = db.prepare(PURGE);
    this.#takeAll = db.transaction((batch: PendingTake[]) => batch.map((p) => this.#take.get(p.params)!));
  }

  take(key: string, windowMs: number, want: number, max: number, now: number): Promise<TakeResult> {
    const start = windowStart(now, windowMs);
    return new Promise<TakeResult>((resolve, reject) => {
      const params = { key, start, want, max, expires: start + windowMs };
      this.#batch.add({ params, now, deadline: performance.now() + TAKE_TIMEOUT_MS, attempt: 0, resolve, reject });
    });
  }

  #run(batch: PendingTake[]): void {
    let rows: { used: number; granted: number }[];
    try {
      rows = this.#takeAll.immediate(batch);
    } catch (error) {
      if (!isBusy(error)) {
        for (const p of batch) p.reject(error);
        return;
      }
      // another process holds the lock: the next turn, then every millisecond, until each take's deadline
      const at = performance.now();
      for (const p of batch) {
        if (at >= p.deadline) p.reject(error);
        else setTimeoutOrImmediate(p.attempt++, () => this.#batch.add(p));
      }
      return;
    }
    batch.forEach((p, i) => p.resolve({ granted: rows[i]!.granted, used: rows[i]!.used, resetAt: p.params.expires }));
    this.#takes += batch.length;
    if (this.#takes >= PURGE_EVERY) {
      this.#takes = 0;
      this.#purgeExpired(batch[batch.length - 1]!.now);
    }
  }

  /** Best effort, after a batch (no caller waits to be told): another process holding the lock, or a broken file,
   *  leaves it to the next purge; a broken file shows in the next takes. */
  #purgeExpired(now: number): void {
    try {
      this.#purge.run(now);
    } catch {
      // tried again after the next PURGE_EVERY takes
    }
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}

export async function openSqliteRateLimits(storeFile: string): Promise<RateLimitStore> {
  const file = rateLimitFile(storeFile);
  if (file !== ':memory:') mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  for (let attempt = 0; ; attempt++) {
    const db = new Database(file, { timeout: TAKE_TIMEOUT_MS });
    try {
      if (file !== ':memory:') {
        const mode = db.pragma('journal_mode = WAL', { simple: true });
        if (typeof mode !== 'string' || mode.toLowerCase() !== 'wal') throw new Error(`SQLite refused WAL mode for ${file} (journal_mode is ${String(mode)})`);
        // counters lost on a power cut only end some windows early
        db.pragma('synchronous = NORMAL');
      }
      db.exec(SCHEMA);
      db.pragma('busy_timeout = 0');
      return new SqliteRateLimits(db);
    } catch (error) {
      db.close();
      // processes starting together: switching to WAL can be refused at once (SQLite skips the busy handler there)
      if (!isBusy(error) || attempt >= 20) throw error;
      await new Promise((resolve) => setTimeout(resolve, 10 + Math.random() * 40));
    }
  }
}
