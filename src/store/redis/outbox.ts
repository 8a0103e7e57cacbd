/**
 * The outbox in Redis: one hash slot ({ob}) holding the messages, a queue per topic and the deduplication hash.
 */
import { toJson, parseJson } from '../shared/codec.js';
import type { ClaimOptions, OutboxInput, OutboxMessage, OutboxStats, OutboxStore } from '../store.js';
import { list, num, str, type RedisConnection } from './connection.js';
import type { RedisKeys } from './keys.js';
import * as scripts from './scripts/index.js';

export class RedisOutbox implements OutboxStore {
  private readonly keys: RedisKeys;

  constructor(private readonly conn: RedisConnection) {
    this.keys = conn.keys;
  }

  private get outboxKeys(): { dedupe: string; seq: string; topics: string } {
    const p = this.keys.outboxPrefix;
    return { dedupe: `${p}dedupe`, seq: `${p}seq`, topics: `${p}topics` };
  }

  async enqueue(messages: readonly OutboxInput[]): Promise<void> {
    if (messages.length === 0) return;
    const k = this.outboxKeys;
    const args: (string | number)[] = [this.keys.outboxPrefix];
    for (const m of messages) args.push(m.topic, m.key, toJson(m.payload), m.availableAt);
    await this.conn.script(scripts.OUTBOX_ENQUEUE, [k.dedupe, k.seq, k.topics], args);
  }

  async claim(options: ClaimOptions): Promise<OutboxMessage[]> {
    const { now, limit, leaseMs, owner, topics } = options;
    if (limit <= 0 || (topics !== undefined && topics.length === 0)) return [];
    const flat = list(
      await this.conn.script(scripts.OUTBOX_CLAIM, [this.outboxKeys.topics], [this.keys.outboxPrefix, now, limit, leaseMs, owner, ...(topics ?? [])]),
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
    await this.conn.script(scripts.OUTBOX_COMPLETE, [k.dedupe, k.topics], [this.keys.outboxPrefix, id, owner]);
  }

  async retry(id: string, owner: string, retryAt: number, error: string): Promise<void> {
    if (!/^\d{16}$/.test(id)) return;
    await this.conn.script(scripts.OUTBOX_RETRY, [this.outboxKeys.dedupe], [this.keys.outboxPrefix, id, owner, retryAt, error]);
  }

  async outboxStats(now: number): Promise<OutboxStats> {
    const [depth, ready, oldest] = list(await this.conn.script(scripts.OUTBOX_STATS, [this.outboxKeys.topics], [this.keys.outboxPrefix, now]));
    return { depth: num(depth), ready: num(ready), oldestAgeMs: oldest === null || oldest === undefined ? 0 : now - num(oldest) };
  }
}
