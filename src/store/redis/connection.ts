/**
 * The connections of a Redis store (ioredis, a single Redis or a Redis Cluster), and what every concern module
 * runs its commands and scripts through.
 *
 * Availability: no offline queue, one retry per request and a command timeout, so a request fails fast with
 * StoreUnavailableError while Redis is down (the HTTP layer answers 503 3005 with Retry-After).
 *
 * Expiry: decisions use the caller's `now` (the contract); Redis TTLs are set only as garbage collection, well
 * after the record's own expiry (gcTtl).
 */
import { createHash } from 'node:crypto';
import calculateSlot from 'cluster-key-slot';
import { Cluster, type Redis } from 'ioredis';
import { CallerError } from '../shared/checks.js';
import { warnConnection } from '../shared/outage-log.js';
import { StoreUnavailableError } from '../store.js';
import { RedisKeys } from './keys.js';

export type Client = Redis | Cluster;

export const DAY = 86_400_000;
/** How long after its own expiry Redis keeps a record before its TTL removes it. */
const GC_GRACE_MS = 7 * DAY;

// --- errors ----------------------------------------------------------------------------------------------------

/** Server replies meaning "cannot serve now", as opposed to a bad command. */
const UNAVAILABLE_REPLY = /^(CLUSTERDOWN|TRYAGAIN|LOADING|MASTERDOWN|BUSY|NOREPLICAS|READONLY|OOM|MISCONF)/;

export function isReplyError(error: unknown): error is Error {
  return error instanceof Error && error.name === 'ReplyError';
}

export function mapError(error: unknown): unknown {
  if (error instanceof CallerError) return error.error;
  if (error instanceof StoreUnavailableError) return error;
  if (isReplyError(error) && !UNAVAILABLE_REPLY.test(error.message)) return error;
  // Everything else ioredis raises is about the connection: refused, closed, timed out, retries exhausted,
  // no offline queue, cluster without reachable nodes.
  if (error instanceof Error) return new StoreUnavailableError(`Redis unavailable: ${error.message}`, { cause: error });
  return error;
}

// --- replies and times -----------------------------------------------------------------------------------------

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** TTL that lets a record live until well after `expires`, measured from the wall clock (GC only). */
export function gcTtl(expires: number, graceMs: number = GC_GRACE_MS): number {
  return Math.max(0, Math.min(expires - Date.now(), 10 * 365 * DAY)) + graceMs;
}

export function str(value: unknown): string | null {
  if (typeof value === 'string') return value;
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  return null;
}

export function num(value: unknown): number {
  const n = typeof value === 'number' ? value : Number(str(value));
  if (!Number.isFinite(n)) throw new Error(`Redis returned a non-number: ${String(value)}`);
  return n;
}

export function list(value: unknown): unknown[] {
  if (!Array.isArray(value)) throw new Error('Redis script returned a non-array');
  return value;
}

// --- the connection --------------------------------------------------------------------------------------------

export class RedisConnection {
  closed = false;
  readonly keys: RedisKeys;
  /** The Cluster client, or null on a single Redis. */
  readonly cluster: Cluster | null;
  private readonly shas = new Map<string, string>();

  constructor(
    readonly client: Client,
    /** The connection in subscriber mode (notifications.ts). */
    readonly subscriber: Client,
    prefix: string,
  ) {
    this.keys = new RedisKeys(prefix);
    this.cluster = client instanceof Cluster ? client : null;
    // Connection errors fail the commands (503); without a listener ioredis would log every reconnect attempt, with
    // this one a few lines a second say why.
    const warn = (error: Error): void => warnConnection(`Redis connection error: ${error.message}`);
    client.on('error', warn);
    subscriber.on('error', warn);
  }

  /** Runs a command, mapping connection failures to StoreUnavailableError. */
  async cmd<T>(op: (c: Client) => Promise<T>): Promise<T> {
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
  script(source: string, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown> {
    return this.cmd((c) => this.evalOn(c, source, keys, args));
  }

  /** A script on one node of a Cluster, its keys in ARGV (none declared: the node is chosen here, not by ioredis). */
  scriptOn(node: Redis, source: string, args: readonly (string | number)[]): Promise<unknown> {
    return this.cmd(() => this.evalOn(node, source, [], args));
  }

  /**
   * Splits a turn's baskets by the master that serves their slot, as ioredis last saw the slots; baskets of a slot
   * it knows no master for form a group of their own, with node null.
   */
  byNode<T>(cluster: Cluster, items: readonly T[], keyOf: (item: T) => string): { node: Redis | null; items: T[] }[] {
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
}
