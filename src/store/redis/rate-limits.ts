/**
 * Rate-limit counters on Redis or a Redis Cluster: one string key per (key, window),
 * `<prefix>{rl:<key>}:<windowStart>`, counted by one Lua script per take and expired by Redis at the window's
 * end (PEXPIRE, plus a grace for clock differences between processes). The script touches that one key, which
 * carries its own hash tag, so it runs on a Cluster as on a single Redis. A client of its own, with short
 * timeouts and no offline queue: while Redis is away a take fails at once and the limiter admits (fails open).
 */
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import { parseRedisUrl } from './url.js';
import { TAKE_TIMEOUT_MS, windowStart, type RateLimitStore, type TakeResult } from '../rate-limits.js';

/** KEYS[1] counter; ARGV want, max, ttl ms. Returns {granted, used}. */
const TAKE = `
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
local want = tonumber(ARGV[1])
local room = tonumber(ARGV[2]) - used
if room < want then want = room end
if want <= 0 then return {0, used} end
used = redis.call('INCRBY', KEYS[1], want)
if used == want then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
return {want, used}
`;

/** Kept past the window's end, so that a process whose clock is a little behind still finds the count. */
const EXPIRY_GRACE_MS = 5000;
const PREFIX = /^[^{}\s]{0,100}$/;

type Client = Redis | Cluster;
interface WithTake {
  basketRateLimitTake(key: string, want: number, max: number, ttlMs: number): Promise<[number, number]>;
}

class RedisRateLimits implements RateLimitStore {
  constructor(
    private readonly client: Client,
    private readonly prefix: string,
  ) {
    client.defineCommand('basketRateLimitTake', { numberOfKeys: 1, lua: TAKE });
  }

  /** The key of one window; the caller's key is URI-encoded so that no `{` or `}` in it moves the hash tag. */
  keyOf(key: string, start: number): string {
    return `${this.prefix}{rl:${encodeURIComponent(key)}}:${start}`;
  }

  async take(key: string, windowMs: number, want: number, max: number, now: number): Promise<TakeResult> {
    const start = windowStart(now, windowMs);
    const resetAt = start + windowMs;
    const ttl = resetAt - now + EXPIRY_GRACE_MS;
    const [granted, used] = await (this.client as unknown as WithTake).basketRateLimitTake(this.keyOf(key, start), want, max, ttl);
    return { granted, used, resetAt };
  }

  async close(): Promise<void> {
    this.client.disconnect();
  }
}

/** A counter store on the Redis (or Cluster) of `url`, keys under the URL's `prefix` (default `basket:`). */
export async function openRedisRateLimits(url: string): Promise<RateLimitStore> {
  const parsed = parseRedisUrl(url);
  const prefix = parsed.prefix ?? 'basket:';
  if (!PREFIX.test(prefix)) throw new Error('Redis key prefix must not contain braces or spaces');
  const common: RedisOptions = {
    username: parsed.username,
    password: parsed.password,
    ...(parsed.tls ? { tls: {} } : {}),
    connectTimeout: TAKE_TIMEOUT_MS,
    commandTimeout: TAKE_TIMEOUT_MS,
    maxRetriesPerRequest: 0,
  };
  let client: Client;
  if (parsed.cluster) {
    const options: ClusterOptions = {
      redisOptions: common,
      enableOfflineQueue: false,
      enableAutoPipelining: true,
      clusterRetryStrategy: (times) => Math.min(100 * times, 2000),
      slotsRefreshTimeout: TAKE_TIMEOUT_MS,
    };
    client = new Cluster(parsed.nodes, options);
  } else {
    const node = parsed.nodes[0];
    if (node === undefined || parsed.nodes.length !== 1) throw new Error('redis:// takes one host; use redis-cluster:// for several');
    client = new Redis({
      ...common,
      host: node.host,
      port: node.port,
      db: parsed.db,
      enableOfflineQueue: false,
      enableAutoPipelining: true,
      retryStrategy: (times) => Math.min(100 * times, 2000),
    });
  }
  // failures reach the limiter through the takes (which fail open and log, rate-limited); the client's own
  // 'error' events would otherwise be printed by ioredis on every reconnect attempt
  client.on('error', () => {});
  // Wait a moment for the connection so that the first takes find it; Redis being away is no reason not to start.
  await new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(timer);
      client.off('ready', done);
      resolve();
    };
    const timer = setTimeout(done, TAKE_TIMEOUT_MS);
    client.once('ready', done);
  });
  return new RedisRateLimits(client, prefix);
}
