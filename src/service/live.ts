/**
 * The basket feed behind the live change stream (issue 22): who watches which basket in this process, and the
 * basket's state for them after every change.
 *
 * Changes come from the store's notifications (`onBasketChange`: this process's writes, and other processes'
 * through PostgreSQL LISTEN/NOTIFY or Redis pub/sub) and, for SQLite under node:cluster, from the other workers
 * through the primary (live-cluster.ts). A change of a watched basket is read once for all its watchers, on the
 * next turn (so a burst of changes costs one read, and SQLite's shared read transaction of the turn, which may
 * predate another process's write, has ended); changes arriving while a read is under way cause one more read
 * after it. Watchers therefore see the latest state, not every state: the stream's contract.
 *
 * Caps: at most `maxPerUser` watchers of one basket and `maxStreams` in all, per process (LiveLimitError).
 */
import type { BasketChangeSource, BasketKey, BasketStore, StoredBasket } from '../store/store.js';
import type { Logger } from './checkout.js';

export type LiveLimit = 'user' | 'process';

export class LiveLimitError extends Error {
  constructor(readonly limit: LiveLimit) {
    super(limit === 'user' ? 'Too many open event streams for this user' : 'Too many open event streams; try again later');
    this.name = 'LiveLimitError';
  }
}

export interface BasketWatcher {
  /** The basket's state after a change (null: it has none). Must not throw. */
  changed(stored: StoredBasket | null): void;
}

export interface BasketFeedOptions {
  store: Pick<BasketStore, 'getBasket' | 'onBasketChange'>;
  maxStreams: number;
  maxPerUser: number;
  log: Logger;
}

interface Watched {
  key: BasketKey;
  watchers: Set<BasketWatcher>;
  /** A read is scheduled or under way. */
  reading: boolean;
  /** Another change arrived during the read: read once more after it. */
  again: boolean;
}

/** How long a failed read waits before the next try (a store outage). */
const RETRY_MS = 1000;

function feedKey(key: BasketKey): string {
  // partner ids never hold NUL (config allows [A-Za-z0-9._-]), so the first NUL splits
  return `${key.partnerId}\u0000${key.userId}`;
}

export class BasketFeed {
  private readonly watched = new Map<string, Watched>();
  private total = 0;
  private readonly unlisten: () => void;
  private readonly countListeners = new Set<(open: number) => void>();
  private lastWarning = 0;

  constructor(private readonly opts: BasketFeedOptions) {
    this.unlisten = opts.store.onBasketChange((key, source) => this.changed(key, source));
  }

  /** Watchers in this process. */
  get open(): number {
    return this.total;
  }

  /** Called with the number of watchers whenever it changes between 0 and more (live-cluster.ts). */
  onActivity(listener: (open: number) => void): void {
    this.countListeners.add(listener);
  }

  /** The basket as stored now (a stream's first event). */
  read(key: BasketKey): Promise<StoredBasket | null> {
    return this.opts.store.getBasket(key);
  }

  /** Starts telling `watcher` of the basket's changes; the returned function stops it. Throws LiveLimitError. */
  watch(key: BasketKey, watcher: BasketWatcher): () => void {
    const id = feedKey(key);
    let entry = this.watched.get(id);
    if ((entry?.watchers.size ?? 0) >= this.opts.maxPerUser) throw new LiveLimitError('user');
    if (this.total >= this.opts.maxStreams) throw new LiveLimitError('process');
    if (entry === undefined) {
      entry = { key: { partnerId: key.partnerId, userId: key.userId }, watchers: new Set(), reading: false, again: false };
      this.watched.set(id, entry);
    }
    entry.watchers.add(watcher);
    this.total++;
    if (this.total === 1) this.tellActivity();
    const watched = entry;
    let stopped = false;
    return () => {
      if (stopped) return;
      stopped = true;
      watched.watchers.delete(watcher);
      this.total--;
      if (watched.watchers.size === 0 && this.watched.get(id) === watched) this.watched.delete(id);
      if (this.total === 0) this.tellActivity();
    };
  }

  private tellActivity(): void {
    for (const l of this.countListeners) l(this.total);
  }

  /** A basket changed (store notification, or a relayed one): its watchers get its state soon. */
  changed(key: BasketKey, _source?: BasketChangeSource): void {
    if (this.total === 0) return;
    const entry = this.watched.get(feedKey(key));
    if (entry === undefined) return;
    if (entry.reading) {
      entry.again = true;
      return;
    }
    entry.reading = true;
    setImmediate(() => this.readFor(entry));
  }

  private readFor(entry: Watched): void {
    entry.again = false;
    this.opts.store.getBasket(entry.key).then(
      (stored) => {
        for (const w of entry.watchers) w.changed(stored);
        this.readDone(entry, 0);
      },
      (err: unknown) => {
        const t = Date.now();
        if (t - this.lastWarning > 10_000) {
          this.lastWarning = t;
          this.opts.log.warn({ err }, 'live stream: reading a changed basket failed; retrying');
        }
        entry.again = true;
        this.readDone(entry, RETRY_MS);
      },
    );
  }

  private readDone(entry: Watched, delayMs: number): void {
    if (!entry.again || entry.watchers.size === 0) {
      entry.reading = false;
      return;
    }
    if (delayMs > 0) setTimeout(() => this.readFor(entry), delayMs).unref();
    else setImmediate(() => this.readFor(entry));
  }

  /** Stops listening to the store (the streams themselves are ended by their owner). */
  close(): void {
    this.unlisten();
  }
}
