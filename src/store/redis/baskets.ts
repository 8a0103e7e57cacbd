/**
 * Baskets in Redis: a hash per (partner, user) with its version, state, expiry and checkout flag, and an expiry
 * index ({gc}:baskets) for the purge.
 *
 * The reads of one turn are one script call (BASKETS_READ) and so are the compare-and-set writes (BASKETS_CAS,
 * which also writes the expiry index and publishes the change); in Redis Cluster one call per node for the baskets
 * that node serves (NODE_BASKETS_CAS), the expiry index then written after the commit, a ZADD and a ZREM per turn.
 */
import type { BasketState } from '../../domain/basket.js';
import { callerFn } from '../shared/checks.js';
import { encodeChange, hasCheckout, parseJson, toJson } from '../shared/codec.js';
import { KeyedSerializer } from '../shared/serial.js';
import { TurnBatch } from '../shared/turn-batch.js';
import {
  StoreUnavailableError,
  type BasketChangeListener,
  type BasketKey,
  type BasketStore,
  type BasketUpdater,
  type StoredBasket,
} from '../store.js';
import { gcTtl, isReplyError, list, mapError, num, sleep, str, type RedisConnection } from './connection.js';
import { purgeIndex } from './expiry.js';
import type { RedisKeys } from './keys.js';
import type { RedisNotifications } from './notifications.js';
import * as scripts from './scripts/index.js';
import type { Cluster } from 'ioredis';

const MAX_UPDATE_TRIES = 100;
/** Most basket reads, or writes, in one script call. */
const BASKET_BATCH = 256;

/** A basket compare-and-set waiting for its turn's script call: BASKETS_CAS's seven arguments for it. */
interface BatchedWrite {
  redisKey: string;
  args: readonly (string | number)[];
  resolve(version: number): void;
  reject(error: unknown): void;
}

/** A Redis Cluster expiry-index change waiting for its turn's ZADD (score) or ZREM (score null). */
interface BatchedIndexUpdate {
  member: string;
  score: number | null;
  resolve(): void;
  reject(error: unknown): void;
}

/** A basket read waiting for its turn's script call (getBasket). */
interface BatchedRead {
  key: BasketKey;
  resolve(stored: StoredBasket | null): void;
  reject(error: unknown): void;
}

/** A basket from its hash's `v` and `d` fields; null when it has none. */
function storedBasket(v: string | null | undefined, d: string | null | undefined): StoredBasket | null {
  if (v === null || v === undefined || d === null || d === undefined) return null;
  return { state: parseJson<BasketState>(d), version: Number(v) };
}

export class RedisBaskets implements BasketStore {
  private readonly keys: RedisKeys;
  private readonly channel: string;
  private readonly origin: string;
  /** Same-basket writes of this process queue here, so that they do not fight each other. */
  private readonly serial = new KeyedSerializer();
  /**
   * Basket reads of one turn, answered by one script call; in Redis Cluster by one call per node, for the baskets
   * that node serves (each user's keys have a slot of their own).
   */
  private readonly reads: TurnBatch<BatchedRead>;
  /** Basket compare-and-set writes of one turn, one script call (per node in Redis Cluster, as reads). */
  private readonly writes: TurnBatch<BatchedWrite>;
  /** Whether the write script also writes the expiry index: not in Redis Cluster, where the index has its own slot. */
  private readonly indexInBatch: boolean;
  /** Redis Cluster: the turn's expiry-index changes, one ZADD and one ZREM for all of them. */
  private readonly indexUpdates = new TurnBatch<BatchedIndexUpdate>(BASKET_BATCH, (batch) => void this.indexBatch(batch));

  constructor(
    private readonly conn: RedisConnection,
    private readonly notifications: RedisNotifications,
  ) {
    this.keys = conn.keys;
    this.channel = notifications.channel;
    this.origin = notifications.origin;
    const cluster = conn.cluster;
    this.indexInBatch = cluster === null;
    this.reads = new TurnBatch<BatchedRead>(BASKET_BATCH, (batch) => void (cluster ? this.readBatchByNode(cluster, batch) : this.readBatch(batch)));
    this.writes = new TurnBatch<BatchedWrite>(BASKET_BATCH, (batch) => void (cluster ? this.writeBatchByNode(cluster, batch) : this.writeBatch(batch)));
  }

  async getBasket(key: BasketKey): Promise<StoredBasket | null> {
    return new Promise<StoredBasket | null>((resolve, reject) => this.reads.add({ key, resolve, reject }));
  }

  /** The expiry-index changes of a turn (Redis Cluster), one ZADD and one ZREM; a failure fails them all. */
  private async indexBatch(batch: readonly BatchedIndexUpdate[]): Promise<void> {
    const index = this.keys.gc('baskets');
    const adds = batch.filter((u) => u.score !== null).flatMap((u) => [u.score!, u.member]);
    const removes = batch.filter((u) => u.score === null).map((u) => u.member);
    try {
      await Promise.all([
        adds.length > 0 ? this.conn.cmd((c) => c.zadd(index, ...adds)) : null,
        removes.length > 0 ? this.conn.cmd((c) => c.zrem(index, ...removes)) : null,
      ]);
      for (const u of batch) u.resolve();
    } catch (error) {
      for (const u of batch) u.reject(error);
    }
  }

  /** One basket read on its own, routed by ioredis (which follows a moved slot). */
  private readOne(r: BatchedRead): void {
    this.conn.cmd((c) => c.hmget(this.keys.basket(r.key), 'v', 'd')).then(([v, d]) => r.resolve(storedBasket(v, d)), r.reject).catch(r.reject);
  }

  /** One basket compare-and-set on its own (BASKET_CAS), routed by ioredis; the expiry index is the caller's. */
  private writeOne(w: BatchedWrite): void {
    const [expected, data, expires, checkout, ttl, payload] = w.args;
    this.conn.script(scripts.BASKET_CAS, [w.redisKey], [expected!, data!, expires!, checkout!, ttl!, this.channel, payload!])
      .then((v) => w.resolve(num(v)), w.reject)
      .catch(w.reject);
  }

  /**
   * The reads of a turn in Redis Cluster: one script call per node. A call that fails (a slot moved since ioredis
   * last looked, a node going away) leaves its reads to readOne.
   */
  private async readBatchByNode(cluster: Cluster, batch: readonly BatchedRead[]): Promise<void> {
    const groups = this.conn.byNode(cluster, batch, (r) => this.keys.basket(r.key));
    await Promise.all(
      groups.map(async ({ node, items }) => {
        let values: unknown[] | null = null;
        if (node !== null) {
          values = await this.conn.scriptOn(node, scripts.BASKETS_READ, items.map((r) => this.keys.basket(r.key))).then(list, () => null);
        }
        for (let i = 0; i < items.length; i++) {
          const r = items[i]!;
          if (values === null) {
            this.readOne(r);
            continue;
          }
          try {
            r.resolve(storedBasket(str(values[2 * i]), str(values[2 * i + 1])));
          } catch (error) {
            r.reject(error); // a basket that does not parse fails its own read
          }
        }
      }),
    );
  }

  /**
   * The compare-and-set writes of a turn in Redis Cluster: one script call per node. A call Redis refused (a slot
   * moved) has written nothing (NODE_BASKETS_CAS reads every key first), so its writes go on one by one; a
   * connection failure fails them, as it would fail a single write, since it is not known what was written.
   */
  private async writeBatchByNode(cluster: Cluster, batch: readonly BatchedWrite[]): Promise<void> {
    const groups = this.conn.byNode(cluster, batch, (w) => w.redisKey);
    await Promise.all(
      groups.map(async ({ node, items }) => {
        if (node !== null) {
          try {
            const args = [this.channel, items.length, ...items.map((w) => w.redisKey), ...items.flatMap((w) => w.args.slice(0, 6))];
            const versions = list(await this.conn.scriptOn(node, scripts.NODE_BASKETS_CAS, args));
            for (let i = 0; i < items.length; i++) items[i]!.resolve(num(versions[i]));
            return;
          } catch (error) {
            if (!isReplyError(error)) {
              for (const w of items) w.reject(error);
              return;
            }
          }
        }
        for (const w of items) this.writeOne(w);
      }),
    );
  }

  /** One script call for the compare-and-set writes of a turn; each caller gets its basket's new version or 0. */
  private async writeBatch(batch: readonly BatchedWrite[]): Promise<void> {
    try {
      const keys = [this.keys.gc('baskets'), ...batch.map((w) => w.redisKey)];
      const versions = (await this.conn.script(scripts.BASKETS_CAS, keys, [this.channel, ...batch.flatMap((w) => w.args)])) as number[];
      for (let i = 0; i < batch.length; i++) batch[i]!.resolve(num(versions[i]));
    } catch (error) {
      for (const w of batch) w.reject(error);
    }
  }

  /** One script call for the reads of a turn: a command per read cost ioredis ~6.5 µs of CPU, this ~3. */
  private async readBatch(batch: readonly BatchedRead[]): Promise<void> {
    try {
      const values = (await this.conn.script(scripts.BASKETS_READ, [], batch.map((r) => this.keys.basket(r.key)))) as (string | null)[];
      for (let i = 0; i < batch.length; i++) {
        const r = batch[i]!;
        try {
          r.resolve(storedBasket(values[2 * i], values[2 * i + 1]));
        } catch (error) {
          r.reject(error); // a basket that does not parse fails its own read
        }
      }
    } catch (error) {
      for (const r of batch) r.reject(error);
    }
  }

  updateBasket<R>(key: BasketKey, fn: BasketUpdater<R>): Promise<R> {
    return this.serial.run(this.keys.basket(key), () => this.updateBasketNow(key, fn));
  }

  private async updateBasketNow<R>(key: BasketKey, fn: BasketUpdater<R>): Promise<R> {
    const redisKey = this.keys.basket(key);
    for (let attempt = 0; attempt < MAX_UPDATE_TRIES; attempt++) {
      if (attempt > 0) await sleep(Math.random() * Math.min(1 + attempt, 20));
      const current = await this.getBasket(key);
      let change;
      try {
        change = callerFn(() => fn(current));
      } catch (error) {
        throw mapError(error);
      }
      if ('keep' in change) return change.result;
      const { state } = change;
      const checkout = hasCheckout(state);
      const member = JSON.stringify([key.partnerId, key.userId]);
      const expected = String(current?.version ?? 0);
      const data = toJson(state);
      const checkoutArg = checkout ? '1' : '0';
      const ttl = gcTtl(state.expires);
      const payload = encodeChange(this.origin, key);
      // with the turn's other writes in one script call (per node in Redis Cluster), with the expiry index on a
      // single node
      const written = await new Promise<number>((resolve, reject) =>
        this.writes.add({ redisKey, args: [expected, data, state.expires, checkoutArg, ttl, payload, member], resolve, reject }),
      );
      if (written === 0) continue;
      // In Redis Cluster the expiry index (another slot) is written after the commit; a crash in between leaves
      // the basket to its TTL. Entries are verified when purging, so a stale one is harmless.
      if (!this.indexInBatch) {
        await new Promise<void>((resolve, reject) => this.indexUpdates.add({ member, score: checkout ? null : state.expires, resolve, reject }));
      }
      this.notifications.listeners.emit(key);
      return change.result;
    }
    throw new StoreUnavailableError(`basket update kept conflicting after ${MAX_UPDATE_TRIES} tries`);
  }

  onBasketChange(listener: BasketChangeListener): () => void {
    return this.notifications.listeners.add(listener);
  }

  async purgeExpiredBaskets(now: number, limit: number): Promise<number> {
    return purgeIndex(this.conn, this.keys.gc('baskets'), now, limit, (member) => {
      const [partnerId, userId] = parseJson<[string, string]>(member);
      return this.keys.basket({ partnerId, userId });
    }, scripts.BASKET_PURGE);
  }
}
