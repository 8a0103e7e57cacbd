/**
 * The outbox in PostgreSQL: a row per message, unique per (topic, key), claimed with `FOR UPDATE SKIP LOCKED`;
 * complete/retry are conditional on the owner.
 */
import { toJson } from '../shared/codec.js';
import type { ClaimOptions, OutboxInput, OutboxMessage, OutboxStats, OutboxStore } from '../store.js';
import type { PgConnection } from './connection.js';

export class PgOutbox implements OutboxStore {
  constructor(private readonly conn: PgConnection) {}

  async enqueue(messages: readonly OutboxInput[]): Promise<void> {
    if (messages.length === 0) return;
    // One statement; WITH ORDINALITY keeps the given order, so the first of duplicates within the batch wins.
    await this.conn.q(
      `INSERT INTO outbox (topic, key, payload, available_at)
       SELECT DISTINCT ON (topic, key) topic, key, payload, available_at
       FROM unnest($1::text[], $2::text[], $3::jsonb[], $4::bigint[]) WITH ORDINALITY AS m(topic, key, payload, available_at, n)
       ORDER BY topic, key, n
       ON CONFLICT (topic, key) DO NOTHING`,
      [messages.map((m) => m.topic), messages.map((m) => m.key), messages.map((m) => toJson(m.payload)), messages.map((m) => m.availableAt)],
    );
  }

  async claim(options: ClaimOptions): Promise<OutboxMessage[]> {
    const { now, limit, leaseMs, owner, topics } = options;
    if (limit <= 0 || (topics !== undefined && topics.length === 0)) return [];
    const { rows } = await this.conn.q<{ id: number; topic: string; key: string; payload: unknown; attempts: number; available_at: number }>(
      `UPDATE outbox o SET claimed_by = $3, claim_until = $1 + $4::bigint, attempts = o.attempts + 1
       FROM (
         SELECT id FROM outbox
         WHERE available_at <= $1 AND (claim_until IS NULL OR claim_until <= $1)
           AND ($5::text[] IS NULL OR topic = ANY($5::text[]))
         ORDER BY available_at, id LIMIT $2
         FOR UPDATE SKIP LOCKED) c
       WHERE o.id = c.id
       RETURNING o.id, o.topic, o.key, o.payload, o.attempts, o.available_at`,
      [now, limit, owner, leaseMs, topics === undefined ? null : [...topics]],
    );
    rows.sort((a, b) => a.available_at - b.available_at || a.id - b.id);
    return rows.map((r) => ({ id: String(r.id), topic: r.topic, key: r.key, payload: r.payload, attempts: r.attempts }));
  }

  async complete(id: string, owner: string): Promise<void> {
    if (!/^\d{1,18}$/.test(id)) return;
    await this.conn.q('DELETE FROM outbox WHERE id = $1 AND claimed_by = $2', [id, owner]);
  }

  async retry(id: string, owner: string, retryAt: number, error: string): Promise<void> {
    if (!/^\d{1,18}$/.test(id)) return;
    await this.conn.q(
      `UPDATE outbox SET available_at = $1, claimed_by = NULL, claim_until = NULL, last_error = $2
       WHERE id = $3 AND claimed_by = $4`,
      [retryAt, error, id, owner],
    );
  }

  async outboxStats(now: number): Promise<OutboxStats> {
    // `due`: when a message can next be claimed, the later of availableAt and its lease (GREATEST skips a NULL lease)
    const { rows } = await this.conn.q<{ depth: number; ready: number; oldest: number | null }>(
      `SELECT count(*)::int AS depth, (count(*) FILTER (WHERE due <= $1))::int AS ready, min(due) FILTER (WHERE due <= $1) AS oldest
       FROM (SELECT GREATEST(available_at, claim_until) AS due FROM outbox) o`,
      [now],
    );
    const row = rows[0];
    return { depth: row?.depth ?? 0, ready: row?.ready ?? 0, oldestAgeMs: row?.oldest == null ? 0 : now - row.oldest };
  }
}
