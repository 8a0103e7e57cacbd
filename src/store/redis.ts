/**
 * Redis adapter of the Store interface (ioredis), for a single Redis or a Redis Cluster.
 *
 * Key layout (every key starts with the configured prefix, default `basket:`; ids are URI-encoded so that a `{`,
 * `}` or `:` in an id can never change a hash tag):
 *   {p:<partner>:u:<user>}:basket       hash v (version), d (state JSON), e (expires), c (has checkout)
 *   {p:<partner>:u:<user>}:comfort      string (JSON)
 *   {s:<partner>:<product>}:stock       hash d (product JSON), s (stock, '' = unlimited), r (reserved)
 *   {s:<partner>:<product>}:line:<res>  hash o (outcome of this line), st (state) — one per reservation line
 *   {r:<partner>:<res>}:reservation     hash st, req (requested lines), out (outcome)
 *   {c:<partner>}:catalogue             flag: the partner has products
 *   {o:<partner>}:order:<orderNo>       string (order JSON)
 *   {o:<partner>}:user:<user>           zset of the user's order numbers, score = created
 *   {pay:<provider>:<ref>}              string: [partner, orderNo] of the order with that payment reference
 *   {t:<tokenHash>}                     hash: a transfer token
 *   {i:<scope>:<key>}                   hash: an idempotency record
 *   {gc}:baskets|transfers|idem         zsets: expiry indexes for the purge methods
 *   {ob}:...                            the outbox (one slot: see docs/scaling.md)
 *
 * Atomicity: each multi-key script touches one hash slot only. Operations that span slots (a reservation over
 * several products; an order plus its payment-reference index; a record plus its expiry index) are sequences of
 * single-slot scripts, each idempotent and ordered so that a crash in between leaves nothing a reader would
 * trust: indexes are written first and verified on read.
 *
 * Expiry: decisions use the caller's `now` (the contract); Redis TTLs are set only as garbage collection, well
 * after the record's own expiry.
 *
 * Availability: no offline queue, one retry per request and a command timeout, so a request fails fast with
 * StoreUnavailableError while Redis is down (the HTTP layer answers 503 3005 with Retry-After).
 */
import { createHash, randomUUID } from 'node:crypto';
import calculateSlot from 'cluster-key-slot';
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import type { BasketState } from '../domain/basket.js';
import type { Product, ProductInput } from '../domain/catalogue.js';
import * as scripts from './redis-scripts.js';
import { KeyedSerializer } from './shared/serial.js';
import { TurnBatch } from './shared/turn-batch.js';
import {
  cutPage,
  decodeChange,
  decodeCursor,
  encodeChange,
  hasCheckout,
  parseJson,
  productData,
  toJson,
  toProduct,
  type ProductData,
} from './shared/codec.js';
import { assertListLimit, assertReserveCounts, assertSameOrderKey, CallerError, callerFn } from './shared/checks.js';
import { BasketChangeListeners } from './shared/listeners.js';
import {
  DuplicateOrderError,
  StoreUnavailableError,
  type BasketChangeListener,
  type BasketKey,
  type BasketUpdater,
  type ClaimOptions,
  type ComfortSettings,
  type IdempotencyBegin,
  type Order,
  type OrderPage,
  type OutboxInput,
  type OutboxMessage,
  RESERVATION_RETENTION_MS,
  type ReservationState,
  type ReservedLine,
  type ReserveLine,
  type Store,
  type StoredBasket,
  type StoredResponse,
  type TransferRecord,
} from './store.js';

export interface RedisStoreOptions {
  /** Prefix of every key and of the notification channel. Default: the `prefix` URL parameter, else `basket:`. */
  prefix?: string;
  /** Upper bound for one command. Default 5000 ms. */
  commandTimeoutMs?: number;
  /** Upper bound for connecting. Default 5000 ms. */
  connectTimeoutMs?: number;
}

const SCHEMA_VERSION = '1';
const MAX_UPDATE_TRIES = 100;
const DAY = 86_400_000;
/** How long after its own expiry Redis keeps a record before its TTL removes it. */
const GC_GRACE_MS = 7 * DAY;
/** Reservation records outlive any checkout by far; their TTL only collects abandoned ones. */
const RESERVATION_TTL_MS = RESERVATION_RETENTION_MS;
const PURGE_BATCH = 200;

type Client = Redis | Cluster;

// --- errors ----------------------------------------------------------------------------------------------------

/** Server replies meaning "cannot serve now", as opposed to a bad command. */
const UNAVAILABLE_REPLY = /^(CLUSTERDOWN|TRYAGAIN|LOADING|MASTERDOWN|BUSY|NOREPLICAS|READONLY|OOM|MISCONF)/;

function isReplyError(error: unknown): error is Error {
  return error instanceof Error && error.name === 'ReplyError';
}

function mapError(error: unknown): unknown {
  if (error instanceof CallerError) return error.error;
  if (error instanceof StoreUnavailableError) return error;
  if (isReplyError(error) && !UNAVAILABLE_REPLY.test(error.message)) return error;
  // Everything else ioredis raises is about the connection: refused, closed, timed out, retries exhausted,
  // no offline queue, cluster without reachable nodes.
  if (error instanceof Error) return new StoreUnavailableError(`Redis unavailable: ${error.message}`, { cause: error });
  return error;
}

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

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

// --- encoding --------------------------------------------------------------------------------------------------

const enc = (s: string): string => encodeURIComponent(s);

/** TTL that lets a record live until well after `expires`, measured from the wall clock (GC only). */
function gcTtl(expires: number, graceMs: number = GC_GRACE_MS): number {
  return Math.max(0, Math.min(expires - Date.now(), 10 * 365 * DAY)) + graceMs;
}

function str(value: unknown): string | null {
  if (typeof value === 'string') return value;
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  return null;
}

function num(value: unknown): number {
  const n = typeof value === 'number' ? value : Number(str(value));
  if (!Number.isFinite(n)) throw new Error(`Redis returned a non-number: ${String(value)}`);
  return n;
}

function list(value: unknown): unknown[] {
  if (!Array.isArray(value)) throw new Error('Redis script returned a non-array');
  return value;
}

function parseOutcome(value: unknown): number | null {
  const s = str(value);
  return s === 'n' ? null : num(s);
}

// --- the store -------------------------------------------------------------------------------------------------

class RedisStore implements Store {
  readonly kind = 'redis' as const;
  private readonly listeners = new BasketChangeListeners();
  private readonly origin = randomUUID();
  private readonly channel: string;
  private readonly serial = new KeyedSerializer();
  private readonly shas = new Map<string, string>();
  private subscribed = false;
  private closed = false;
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
    private readonly client: Client,
    private readonly subscriber: Client,
    private readonly prefix: string,
  ) {
    this.channel = `${prefix}basket-change`;
    const cluster = client instanceof Cluster ? client : null;
    this.indexInBatch = cluster === null;
    this.reads = new TurnBatch<BatchedRead>(BASKET_BATCH, (batch) => void (cluster ? this.readBatchByNode(cluster, batch) : this.readBatch(batch)));
    this.writes = new TurnBatch<BatchedWrite>(BASKET_BATCH, (batch) => void (cluster ? this.writeBatchByNode(cluster, batch) : this.writeBatch(batch)));
    subscriber.on('message', (channel: string, message: string) => this.onMessage(channel, message));
    // Connection errors are reported per command; without listeners ioredis would log every reconnect attempt.
    client.on('error', () => undefined);
    subscriber.on('error', () => undefined);
  }

  // --- keys

  private basketKey(k: BasketKey): string {
    return `${this.prefix}{p:${enc(k.partnerId)}:u:${enc(k.userId)}}:basket`;
  }
  private comfortKey(k: BasketKey): string {
    return `${this.prefix}{p:${enc(k.partnerId)}:u:${enc(k.userId)}}:comfort`;
  }
  private stockKey(partnerId: string, productId: string): string {
    return `${this.prefix}{s:${enc(partnerId)}:${enc(productId)}}:stock`;
  }
  private lineKey(partnerId: string, productId: string, reservationId: string): string {
    return `${this.prefix}{s:${enc(partnerId)}:${enc(productId)}}:line:${enc(reservationId)}`;
  }
  private reservationKey(partnerId: string, reservationId: string): string {
    return `${this.prefix}{r:${enc(partnerId)}:${enc(reservationId)}}:reservation`;
  }
  private catalogueKey(partnerId: string): string {
    return `${this.prefix}{c:${enc(partnerId)}}:catalogue`;
  }
  private orderKey(partnerId: string, orderNo: string): string {
    return `${this.prefix}{o:${enc(partnerId)}}:order:${enc(orderNo)}`;
  }
  private userOrdersKey(partnerId: string, userId: string): string {
    return `${this.prefix}{o:${enc(partnerId)}}:user:${enc(userId)}`;
  }
  private paymentRefKey(provider: string, ref: string): string {
    return `${this.prefix}{pay:${enc(provider)}:${enc(ref)}}`;
  }
  private transferKey(tokenHash: string): string {
    return `${this.prefix}{t:${enc(tokenHash)}}`;
  }
  private idempotencyKey(scope: string, key: string): string {
    return `${this.prefix}{i:${enc(scope)}:${enc(key)}}`;
  }
  private gcKey(kind: 'baskets' | 'transfers' | 'idem'): string {
    return `${this.prefix}{gc}:${kind}`;
  }
  private get outboxPrefix(): string {
    return `${this.prefix}{ob}:`;
  }

  // --- plumbing

  /** Runs a command, mapping connection failures to StoreUnavailableError. */
  private async cmd<T>(op: (c: Client) => Promise<T>): Promise<T> {
    if (this.closed) throw new StoreUnavailableError('Redis store is closed');
    try {
      return await op(this.client);
    } catch (error) {
      throw mapError(error);
    }
  }

  /** EVALSHA with a fallback to EVAL when the server does not know the script yet. */
  private async evalOn(c: Client, source: string, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown> {
    let sha = this.shas.get(source);
    if (sha === undefined) {
      sha = createHash('sha1').update(source).digest('hex');
      this.shas.set(source, sha);
    }
    try {
      return await c.evalsha(sha, keys.length, ...keys, ...args);
    } catch (error) {
      if (isReplyError(error) && error.message.startsWith('NOSCRIPT')) return c.eval(source, keys.length, ...keys, ...args);
      throw error;
    }
  }

  /** A script, routed by ioredis by its first key. */
  private script(source: string, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown> {
    return this.cmd((c) => this.evalOn(c, source, keys, args));
  }

  /** A script on one node of a Cluster, its keys in ARGV (none declared: the node is chosen here, not by ioredis). */
  private scriptOn(node: Redis, source: string, args: readonly (string | number)[]): Promise<unknown> {
    return this.cmd(() => this.evalOn(node, source, [], args));
  }

  /**
   * Splits a turn's baskets by the master that serves their slot, as ioredis last saw the slots; baskets of a slot
   * it knows no master for form a group of their own, with node null.
   */
  private byNode<T>(cluster: Cluster, items: readonly T[], keyOf: (item: T) => string): { node: Redis | null; items: T[] }[] {
    const masters = new Map<string, Redis>();
    for (const n of cluster.nodes('master')) masters.set(`${n.options.host}:${n.options.port}`, n);
    const groups = new Map<string, { node: Redis | null; items: T[] }>();
    for (const item of items) {
      const nodeKey = cluster.slots[calculateSlot(keyOf(item))]?.[0];
      const node = nodeKey === undefined ? undefined : masters.get(nodeKey);
      const id = node === undefined || nodeKey === undefined ? '' : nodeKey;
      let group = groups.get(id);
      if (group === undefined) groups.set(id, (group = { node: node ?? null, items: [] }));
      group.items.push(item);
    }
    return [...groups.values()];
  }

  async init(): Promise<void> {
    const key = `${this.prefix}{meta}:schema`;
    await this.cmd((c) => c.set(key, SCHEMA_VERSION, 'NX'));
    const version = await this.cmd((c) => c.get(key));
    if (version !== SCHEMA_VERSION) {
      throw new Error(`Redis key layout version ${String(version)} is not the one of this build (${SCHEMA_VERSION})`);
    }
    if (!this.subscribed) {
      await this.cmd(() => this.subscriber.subscribe(this.channel));
      this.subscribed = true;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.allSettled([this.client.quit(), this.subscriber.quit()]);
    this.client.disconnect();
    this.subscriber.disconnect();
  }

  async ping(): Promise<void> {
    await this.cmd((c) => c.ping());
  }

  // --- baskets ---------------------------------------------------------------------------------------------------

  async getBasket(key: BasketKey): Promise<StoredBasket | null> {
    return new Promise<StoredBasket | null>((resolve, reject) => this.reads.add({ key, resolve, reject }));
  }

  /** The expiry-index changes of a turn (Redis Cluster), one ZADD and one ZREM; a failure fails them all. */
  private async indexBatch(batch: readonly BatchedIndexUpdate[]): Promise<void> {
    const index = this.gcKey('baskets');
    const adds = batch.filter((u) => u.score !== null).flatMap((u) => [u.score!, u.member]);
    const removes = batch.filter((u) => u.score === null).map((u) => u.member);
    try {
      await Promise.all([
        adds.length > 0 ? this.cmd((c) => c.zadd(index, ...adds)) : null,
        removes.length > 0 ? this.cmd((c) => c.zrem(index, ...removes)) : null,
      ]);
      for (const u of batch) u.resolve();
    } catch (error) {
      for (const u of batch) u.reject(error);
    }
  }

  /** One basket read on its own, routed by ioredis (which follows a moved slot). */
  private readOne(r: BatchedRead): void {
    this.cmd((c) => c.hmget(this.basketKey(r.key), 'v', 'd')).then(([v, d]) => r.resolve(storedBasket(v, d)), r.reject).catch(r.reject);
  }

  /** One basket compare-and-set on its own (BASKET_CAS), routed by ioredis; the expiry index is the caller's. */
  private writeOne(w: BatchedWrite): void {
    const [expected, data, expires, checkout, ttl, payload] = w.args;
    this.script(scripts.BASKET_CAS, [w.redisKey], [expected!, data!, expires!, checkout!, ttl!, this.channel, payload!])
      .then((v) => w.resolve(num(v)), w.reject)
      .catch(w.reject);
  }

  /**
   * The reads of a turn in Redis Cluster: one script call per node. A call that fails (a slot moved since ioredis
   * last looked, a node going away) leaves its reads to readOne.
   */
  private async readBatchByNode(cluster: Cluster, batch: readonly BatchedRead[]): Promise<void> {
    const groups = this.byNode(cluster, batch, (r) => this.basketKey(r.key));
    await Promise.all(
      groups.map(async ({ node, items }) => {
        let values: unknown[] | null = null;
        if (node !== null) {
          values = await this.scriptOn(node, scripts.BASKETS_READ, items.map((r) => this.basketKey(r.key))).then(list, () => null);
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
    const groups = this.byNode(cluster, batch, (w) => w.redisKey);
    await Promise.all(
      groups.map(async ({ node, items }) => {
        if (node !== null) {
          try {
            const args = [this.channel, items.length, ...items.map((w) => w.redisKey), ...items.flatMap((w) => w.args.slice(0, 6))];
            const versions = list(await this.scriptOn(node, scripts.NODE_BASKETS_CAS, args));
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
      const keys = [this.gcKey('baskets'), ...batch.map((w) => w.redisKey)];
      const versions = (await this.script(scripts.BASKETS_CAS, keys, [this.channel, ...batch.flatMap((w) => w.args)])) as number[];
      for (let i = 0; i < batch.length; i++) batch[i]!.resolve(num(versions[i]));
    } catch (error) {
      for (const w of batch) w.reject(error);
    }
  }

  /** One script call for the reads of a turn: a command per read cost ioredis ~6.5 µs of CPU, this ~3. */
  private async readBatch(batch: readonly BatchedRead[]): Promise<void> {
    try {
      const values = (await this.script(scripts.BASKETS_READ, [], batch.map((r) => this.basketKey(r.key)))) as (string | null)[];
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
    return this.serial.run(this.basketKey(key), () => this.updateBasketNow(key, fn));
  }

  private async updateBasketNow<R>(key: BasketKey, fn: BasketUpdater<R>): Promise<R> {
    const redisKey = this.basketKey(key);
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
      this.listeners.emit(key);
      return change.result;
    }
    throw new StoreUnavailableError(`basket update kept conflicting after ${MAX_UPDATE_TRIES} tries`);
  }

  private onMessage(channel: string, message: string): void {
    if (channel !== this.channel) return;
    // Our own writes were reported synchronously after the commit; decodeChange drops them.
    const changed = decodeChange(message, this.origin);
    if (changed !== null) this.listeners.emit(changed);
  }

  onBasketChange(listener: BasketChangeListener): () => void {
    return this.listeners.add(listener);
  }

  async purgeExpiredBaskets(now: number, limit: number): Promise<number> {
    return this.purgeIndex(this.gcKey('baskets'), now, limit, (member) => {
      const [partnerId, userId] = parseJson<[string, string]>(member);
      return this.basketKey({ partnerId, userId });
    }, scripts.BASKET_PURGE);
  }

  /**
   * Walks an expiry index up to `now`, deleting each record the script finds expired. Index entries of absent
   * records are dropped; those of records that turn out to live longer are moved to their real expiry.
   */
  private async purgeIndex(index: string, now: number, limit: number, keyOf: (member: string) => string, script: string): Promise<number> {
    let deleted = 0;
    while (deleted < limit) {
      const due = await this.cmd((c) => c.zrangebyscore(index, '-inf', now, 'LIMIT', 0, PURGE_BATCH));
      if (due.length === 0) break;
      for (const member of due) {
        if (deleted >= limit) break;
        const outcome = num(await this.script(script, [keyOf(member)], [now]));
        if (outcome === 1) deleted++;
        if (outcome === 1 || outcome === 0 || outcome === -1) await this.cmd((c) => c.zrem(index, member));
        else await this.cmd((c) => c.zadd(index, outcome, member));
      }
    }
    return deleted;
  }

  // --- catalogue and stock ---------------------------------------------------------------------------------------

  async getProducts(partnerId: string, productIds: readonly string[]): Promise<Map<string, Product>> {
    const products = new Map<string, Product>();
    const unique = [...new Set(productIds)];
    const rows = await Promise.all(unique.map((id) => this.cmd((c) => c.hmget(this.stockKey(partnerId, id), 'd', 's', 'r'))));
    unique.forEach((productId, i) => {
      const [d, s, r] = rows[i] ?? [];
      if (d === null || d === undefined) return;
      const stock = s === '' || s === null || s === undefined ? null : Number(s);
      products.set(productId, toProduct(parseJson<ProductData>(d), productId, stock, Number(r ?? 0)));
    });
    return products;
  }

  async hasCatalogue(partnerId: string): Promise<boolean> {
    return (await this.cmd((c) => c.exists(this.catalogueKey(partnerId)))) === 1;
  }

  async upsertProducts(partnerId: string, products: readonly ProductInput[]): Promise<number> {
    await this.cmd((c) => c.set(this.catalogueKey(partnerId), '1'));
    await Promise.all(
      products.map((p) => {
        const stock = p.stock === null ? '' : String(p.stock);
        return this.script(scripts.PRODUCT_UPSERT, [this.stockKey(partnerId, p.productId)], [toJson(productData(p)), stock]);
      }),
    );
    return products.length;
  }

  async reserveStock(partnerId: string, reservationId: string, lines: readonly ReserveLine[]): Promise<ReservedLine[]> {
    assertReserveCounts(lines);
    const recordKey = this.reservationKey(partnerId, reservationId);
    // 1. The record fixes which lines this reservation id stands for (the first caller's).
    const begun = list(await this.script(scripts.RESERVATION_BEGIN, [recordKey], [toJson(lines), RESERVATION_TTL_MS]));
    const stored = str(begun[2]);
    if (stored !== null) return parseJson<ReservedLine[]>(stored);
    const requested = parseJson<ReserveLine[]>(str(begun[1]) ?? '[]');
    // 2. Each line is one script on its product's slot, idempotent per reservation id: repeats (concurrent or
    //    after a crash) get the same outcome and reserve nothing more.
    const outcome = await Promise.all(
      requested.map(async (line): Promise<ReservedLine> => {
        const o = await this.script(
          scripts.LINE_RESERVE,
          [this.stockKey(partnerId, line.productId), this.lineKey(partnerId, line.productId, reservationId)],
          [line.count, RESERVATION_TTL_MS],
        );
        return { productId: line.productId, stocked: parseOutcome(o) };
      }),
    );
    // 3. The first stored outcome wins (all concurrent callers computed the same one anyway).
    const final = str(await this.script(scripts.RESERVATION_FINISH, [recordKey], [toJson(outcome)]));
    return final === null ? outcome : parseJson<ReservedLine[]>(final);
  }

  async releaseReservation(partnerId: string, reservationId: string): Promise<boolean> {
    return this.settleReservation(partnerId, reservationId, 'released');
  }

  async commitReservation(partnerId: string, reservationId: string): Promise<boolean> {
    return this.settleReservation(partnerId, reservationId, 'committed');
  }

  /**
   * The record's state moves exactly once (one script), which decides the return value. Then every line is
   * settled with the state that won; line settlement is idempotent, so a repeated call (even one that returns
   * false) finishes the work of a call that crashed half-way.
   */
  private async settleReservation(partnerId: string, reservationId: string, to: 'released' | 'committed'): Promise<boolean> {
    const result = await this.script(scripts.RESERVATION_SETTLE, [this.reservationKey(partnerId, reservationId)], [to]);
    if (result === null) return false;
    const [moved, state, req] = list(result);
    const settled = str(state);
    if (settled !== 'released' && settled !== 'committed') return false;
    const requested = parseJson<ReserveLine[]>(str(req) ?? '[]');
    await Promise.all(
      requested.map((line) =>
        this.script(
          scripts.LINE_SETTLE,
          [this.stockKey(partnerId, line.productId), this.lineKey(partnerId, line.productId, reservationId)],
          [settled, line.count, RESERVATION_TTL_MS],
        ),
      ),
    );
    return num(moved) === 1;
  }

  /** Like settleReservation: the record moves once, then every line is returned (idempotent per line). */
  async returnReservation(partnerId: string, reservationId: string): Promise<boolean> {
    const result = await this.script(scripts.RESERVATION_RETURN, [this.reservationKey(partnerId, reservationId)], []);
    if (result === null) return false;
    const [moved, state, req] = list(result);
    if (str(state) !== 'returned') return false;
    const requested = parseJson<ReserveLine[]>(str(req) ?? '[]');
    await Promise.all(
      requested.map((line) =>
        this.script(scripts.LINE_RETURN, [this.stockKey(partnerId, line.productId), this.lineKey(partnerId, line.productId, reservationId)], []),
      ),
    );
    return num(moved) === 1;
  }

  async getReservationState(partnerId: string, reservationId: string): Promise<ReservationState | null> {
    const state = await this.cmd((c) => c.hget(this.reservationKey(partnerId, reservationId), 'st'));
    return state === 'reserved' || state === 'released' || state === 'committed' || state === 'returned' ? state : null;
  }

  // --- transfer tokens (valid while now < expires) ---------------------------------------------------------------

  async putTransfer(tokenHash: string, record: TransferRecord): Promise<void> {
    const key = this.transferKey(tokenHash);
    // Index first: an entry without a record is dropped by the purge; a record without an entry would linger.
    await this.cmd((c) => c.zadd(this.gcKey('transfers'), record.expires, tokenHash));
    await this.cmd((c) =>
      c.multi().del(key).hset(key, 'p', record.partnerId, 'u', record.userId, 'url', record.url, 'e', String(record.expires)).pexpire(key, gcTtl(record.expires, DAY)).exec(),
    );
  }

  async getTransfer(tokenHash: string, now: number): Promise<TransferRecord | null> {
    const [p, u, url, e] = await this.cmd((c) => c.hmget(this.transferKey(tokenHash), 'p', 'u', 'url', 'e'));
    if (!p || !u || url === null || url === undefined || !e || Number(e) <= now) return null;
    return { partnerId: p, userId: u, url, expires: Number(e) };
  }

  async takeTransfer(tokenHash: string, now: number): Promise<TransferRecord | null> {
    const r = await this.script(scripts.TRANSFER_TAKE, [this.transferKey(tokenHash)], [now]);
    if (r === null) return null;
    const [p, u, url, e] = list(r).map(str);
    if (p === null || p === undefined || u === null || u === undefined || url === null || url === undefined) return null;
    return { partnerId: p, userId: u, url, expires: num(e) };
  }

  // --- orders ----------------------------------------------------------------------------------------------------

  async createOrder(order: Order): Promise<void> {
    if (order.paymentRef !== null) {
      // Written first and verified on read: a failed create leaves an entry that resolves to nothing.
      const ref = this.paymentRefKey(order.paymentProvider, order.paymentRef);
      await this.cmd((c) => c.set(ref, JSON.stringify([order.partnerId, order.orderNo])));
    }
    const created = num(
      await this.script(
        scripts.ORDER_CREATE,
        [this.orderKey(order.partnerId, order.orderNo), this.userOrdersKey(order.partnerId, order.userId)],
        [toJson(order), order.created, order.orderNo],
      ),
    );
    if (created !== 1) throw new DuplicateOrderError(order.partnerId, order.orderNo);
  }

  async getOrder(partnerId: string, orderNo: string): Promise<Order | null> {
    const json = await this.cmd((c) => c.get(this.orderKey(partnerId, orderNo)));
    return json === null ? null : parseJson<Order>(json);
  }

  async getOrderByPaymentRef(provider: string, paymentRef: string): Promise<Order | null> {
    const ref = await this.cmd((c) => c.get(this.paymentRefKey(provider, paymentRef)));
    if (ref === null) return null;
    const [partnerId, orderNo] = parseJson<[string, string]>(ref);
    const order = await this.getOrder(partnerId, orderNo);
    return order !== null && order.paymentProvider === provider && order.paymentRef === paymentRef ? order : null;
  }

  updateOrder(partnerId: string, orderNo: string, fn: (order: Order) => Order | null): Promise<Order | null> {
    return this.serial.run(this.orderKey(partnerId, orderNo), () => this.updateOrderNow(partnerId, orderNo, fn));
  }

  private async updateOrderNow(partnerId: string, orderNo: string, fn: (order: Order) => Order | null): Promise<Order | null> {
    const key = this.orderKey(partnerId, orderNo);
    for (let attempt = 0; attempt < MAX_UPDATE_TRIES; attempt++) {
      if (attempt > 0) await sleep(Math.random() * Math.min(1 + attempt, 20));
      const json = await this.cmd((c) => c.get(key));
      if (json === null) return null;
      const current = parseJson<Order>(json);
      let next: Order | null;
      try {
        next = callerFn(() => fn(current));
      } catch (error) {
        throw mapError(error);
      }
      if (next === null) return current;
      assertSameOrderKey(next, partnerId, orderNo);
      const refChanged = next.paymentRef !== current.paymentRef || next.paymentProvider !== current.paymentProvider;
      const pointer = JSON.stringify([partnerId, orderNo]);
      if (refChanged && next.paymentRef !== null) {
        const ref = this.paymentRefKey(next.paymentProvider, next.paymentRef);
        await this.cmd((c) => c.set(ref, pointer));
      }
      const written = num(
        await this.script(
          scripts.ORDER_CAS,
          [key, this.userOrdersKey(partnerId, current.userId), this.userOrdersKey(partnerId, next.userId)],
          [json, toJson(next), next.created, orderNo],
        ),
      );
      if (written === 0) continue;
      if (refChanged && current.paymentRef !== null) {
        const old = this.paymentRefKey(current.paymentProvider, current.paymentRef);
        await this.script(scripts.DELETE_IF_EQUAL, [old], [pointer]);
      }
      return next;
    }
    throw new StoreUnavailableError(`order update kept conflicting after ${MAX_UPDATE_TRIES} tries`);
  }

  async listOrders(partnerId: string, userId: string, limit: number, cursor: string | null): Promise<OrderPage> {
    assertListLimit(limit);
    const after = cursor === null ? null : decodeCursor(cursor);
    const index = this.userOrdersKey(partnerId, userId);
    // Same score sorts by member, so the zset order is (created DESC, orderNo DESC), as the other stores.
    const picked: { orderNo: string; created: number }[] = [];
    const batch = limit + 1 + 16;
    for (let offset = 0; picked.length <= limit; offset += batch) {
      const max = after === null ? '+inf' : String(after.created);
      const found = await this.cmd((c) => c.zrevrangebyscore(index, max, '-inf', 'WITHSCORES', 'LIMIT', offset, batch));
      for (let i = 0; i + 1 < found.length && picked.length <= limit; i += 2) {
        const orderNo = found[i] ?? '';
        const created = Number(found[i + 1]);
        if (after !== null && created === after.created && orderNo >= after.orderNo) continue;
        picked.push({ orderNo, created });
      }
      if (found.length < batch * 2) break;
    }
    const { page, next } = cutPage(picked, limit, (p) => p);
    const orders: Order[] = [];
    if (page.length > 0) {
      // One MGET: the orders of a partner share a hash slot.
      const jsons = await this.cmd((c) => c.mget(page.map((p) => this.orderKey(partnerId, p.orderNo))));
      for (const json of jsons) if (json !== null) orders.push(parseJson<Order>(json));
    }
    return { orders, next };
  }

  // --- outbox ----------------------------------------------------------------------------------------------------

  private get outboxKeys(): { dedupe: string; seq: string; topics: string } {
    const p = this.outboxPrefix;
    return { dedupe: `${p}dedupe`, seq: `${p}seq`, topics: `${p}topics` };
  }

  async enqueue(messages: readonly OutboxInput[]): Promise<void> {
    if (messages.length === 0) return;
    const k = this.outboxKeys;
    const args: (string | number)[] = [this.outboxPrefix];
    for (const m of messages) args.push(m.topic, m.key, toJson(m.payload), m.availableAt);
    await this.script(scripts.OUTBOX_ENQUEUE, [k.dedupe, k.seq, k.topics], args);
  }

  async claim(options: ClaimOptions): Promise<OutboxMessage[]> {
    const { now, limit, leaseMs, owner, topics } = options;
    if (limit <= 0 || (topics !== undefined && topics.length === 0)) return [];
    const flat = list(
      await this.script(scripts.OUTBOX_CLAIM, [this.outboxKeys.topics], [this.outboxPrefix, now, limit, leaseMs, owner, ...(topics ?? [])]),
    );
    const out: OutboxMessage[] = [];
    for (let i = 0; i + 4 < flat.length; i += 5) {
      out.push({
        id: str(flat[i]) ?? '',
        topic: str(flat[i + 1]) ?? '',
        key: str(flat[i + 2]) ?? '',
        payload: parseJson<unknown>(str(flat[i + 3]) ?? 'null'),
        attempts: num(flat[i + 4]),
      });
    }
    return out;
  }

  async complete(id: string, owner: string): Promise<void> {
    if (!/^\d{16}$/.test(id)) return;
    const k = this.outboxKeys;
    await this.script(scripts.OUTBOX_COMPLETE, [k.dedupe, k.topics], [this.outboxPrefix, id, owner]);
  }

  async retry(id: string, owner: string, retryAt: number, error: string): Promise<void> {
    if (!/^\d{16}$/.test(id)) return;
    await this.script(scripts.OUTBOX_RETRY, [this.outboxKeys.dedupe], [this.outboxPrefix, id, owner, retryAt, error]);
  }

  // --- idempotency -----------------------------------------------------------------------------------------------

  async beginIdempotent(scope: string, key: string, fingerprint: string, now: number, ttlMs: number, leaseMs: number): Promise<IdempotencyBegin> {
    // LT keeps the earliest expiry seen; the purge moves an entry that is too early to the record's real expiry.
    await this.cmd((c) => c.zadd(this.gcKey('idem'), 'LT', now + ttlMs, JSON.stringify([scope, key])));
    const r = list(
      await this.script(scripts.IDEMPOTENCY_BEGIN, [this.idempotencyKey(scope, key)], [fingerprint, now, ttlMs, leaseMs, gcTtl(now + ttlMs, DAY)]),
    );
    const state = str(r[0]);
    if (state === 'done') return { state: 'done', response: parseJson<StoredResponse>(str(r[1]) ?? 'null') };
    if (state === 'new' || state === 'running' || state === 'mismatch') return { state };
    throw new Error(`unexpected idempotency state ${String(state)}`);
  }

  async finishIdempotent(scope: string, key: string, response: StoredResponse): Promise<void> {
    await this.script(scripts.IDEMPOTENCY_FINISH, [this.idempotencyKey(scope, key)], [toJson(response)]);
  }

  async abandonIdempotent(scope: string, key: string): Promise<void> {
    await this.script(scripts.IDEMPOTENCY_ABANDON, [this.idempotencyKey(scope, key)], []);
  }

  async purgeExpired(now: number, limit: number): Promise<number> {
    if (limit <= 0) return 0;
    const transfers = await this.purgeIndex(this.gcKey('transfers'), now, limit, (m) => this.transferKey(m), scripts.EXPIRING_PURGE);
    if (transfers >= limit) return transfers;
    const idem = await this.purgeIndex(
      this.gcKey('idem'),
      now,
      limit - transfers,
      (m) => {
        const [scope, key] = parseJson<[string, string]>(m);
        return this.idempotencyKey(scope, key);
      },
      scripts.EXPIRING_PURGE,
    );
    return transfers + idem;
  }

  // --- per-user settings -----------------------------------------------------------------------------------------

  async getComfort(key: BasketKey): Promise<ComfortSettings | null> {
    const json = await this.cmd((c) => c.get(this.comfortKey(key)));
    return json === null ? null : parseJson<ComfortSettings>(json);
  }

  async putComfort(key: BasketKey, settings: ComfortSettings): Promise<void> {
    const value: ComfortSettings = { customerId: settings.customerId, paymentMethodId: settings.paymentMethodId, oneClick: settings.oneClick };
    await this.cmd((c) => c.set(this.comfortKey(key), toJson(value)));
  }
}

// --- opening ---------------------------------------------------------------------------------------------------

const PREFIX = /^[^{}\s]{0,100}$/;

interface ParsedUrl {
  cluster: boolean;
  nodes: { host: string; port: number }[];
  username: string | undefined;
  password: string | undefined;
  tls: boolean;
  db: number;
  prefix: string | null;
}

/** redis://[user:pass@]host:port[/db][?prefix=x], rediss://..., redis-cluster://[user:pass@]h:p,h:p[?prefix=x] */
export function parseRedisUrl(url: string): ParsedUrl {
  const m = /^(redis|rediss|redis-cluster):\/\/(?:([^:@/]*)(?::([^@/]*))?@)?([^/?#]+)(?:\/(\d*))?(?:\?([^#]*))?$/.exec(url);
  if (!m) throw new Error('Redis URL must look like redis://host:port, rediss://host:port or redis-cluster://host:port,host:port');
  const [, scheme, user, pass, hosts = '', db, query] = m;
  const nodes = hosts.split(',').map((hp) => {
    const at = hp.lastIndexOf(':');
    const host = at > 0 ? hp.slice(0, at) : hp;
    const port = at > 0 ? Number(hp.slice(at + 1)) : 6379;
    if (host === '' || !Number.isInteger(port) || port <= 0 || port > 65535) throw new Error(`Redis URL has a bad node ${JSON.stringify(hp)}`);
    return { host: host.replace(/^\[|\]$/g, ''), port };
  });
  const params = new URLSearchParams(query ?? '');
  return {
    cluster: scheme === 'redis-cluster',
    nodes,
    username: user ? decodeURIComponent(user) : undefined,
    password: pass !== undefined ? decodeURIComponent(pass) : undefined,
    tls: scheme === 'rediss' || params.get('tls') === 'true',
    db: db ? Number(db) : 0,
    prefix: params.get('prefix'),
  };
}

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
