/** The outbox in SQLite: a row per message, unique per (topic, key), claimed by owner and lease. */
import { randomUUID } from 'node:crypto';
import { parseJson, toJson } from '../shared/codec.js';
import type { ClaimOptions, OutboxInput, OutboxMessage, OutboxStats, OutboxStore } from '../store.js';
import { SqliteConcern, type Db, type SqliteConnection } from './connection.js';
import type { GroupCommit } from './group-commit.js';

interface OutboxRow {
  id: string;
  topic: string;
  key: string;
  payload: string;
  attempts: number;
}

function prepareStatements(db: Db) {
  return {
    enqueue: db.prepare<[string, string, string, string, number]>(
      `INSERT INTO outbox (id, topic, key, payload, available_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (topic, key) DO NOTHING`,
    ),
    claimable: db.prepare<[number, number, number], OutboxRow>(
      `SELECT id, topic, key, payload, attempts FROM outbox
       WHERE available_at <= ? AND (claim_until IS NULL OR claim_until <= ?)
       ORDER BY available_at, rowid LIMIT ?`,
    ),
    // Topics go in as one JSON array so a single prepared statement serves any number of them.
    claimableInTopics: db.prepare<[number, number, string, number], OutboxRow>(
      `SELECT id, topic, key, payload, attempts FROM outbox
       WHERE available_at <= ? AND (claim_until IS NULL OR claim_until <= ?)
         AND topic IN (SELECT value FROM json_each(?))
       ORDER BY available_at, rowid LIMIT ?`,
    ),
    markClaimed: db.prepare<[string, number, string]>(
      'UPDATE outbox SET claimed_by = ?, claim_until = ?, attempts = attempts + 1 WHERE id = ?',
    ),
    complete: db.prepare<[string, string]>('DELETE FROM outbox WHERE id = ? AND claimed_by = ?'),
    retry: db.prepare<[number, string, string, string]>(
      `UPDATE outbox SET available_at = ?, claimed_by = NULL, claim_until = NULL, last_error = ?
       WHERE id = ? AND claimed_by = ?`,
    ),
    // `due`: when a message can next be claimed, the later of availableAt and its lease (a lapsed lease included)
    stats: db.prepare<[number, number], { depth: number; ready: number; oldest: number | null }>(
      `SELECT COUNT(*) AS depth, COUNT(CASE WHEN due <= ? THEN 1 END) AS ready, MIN(CASE WHEN due <= ? THEN due END) AS oldest
       FROM (SELECT MAX(available_at, COALESCE(claim_until, available_at)) AS due FROM outbox)`,
    ),
  };
}

export class SqliteOutbox extends SqliteConcern<ReturnType<typeof prepareStatements>> implements OutboxStore {
  protected prepareStatements(db: Db) {
    return prepareStatements(db);
  }

  async enqueue(messages: readonly OutboxInput[]): Promise<void> {
    await this.writes.writeTransaction(() => {
      for (const m of messages) this.st.enqueue.run(randomUUID(), m.topic, m.key, toJson(m.payload), m.availableAt);
    });
  }

  async claim(options: ClaimOptions): Promise<OutboxMessage[]> {
    const { now, limit, leaseMs, owner, topics } = options;
    if (limit <= 0 || (topics !== undefined && topics.length === 0)) return [];
    return this.writes.writeTransaction((): OutboxMessage[] => {
      const rows =
        topics === undefined
          ? this.st.claimable.all(now, now, limit)
          : this.st.claimableInTopics.all(now, now, JSON.stringify(topics), limit);
      return rows.map((row) => {
        this.st.markClaimed.run(owner, now + leaseMs, row.id);
        return { id: row.id, topic: row.topic, key: row.key, payload: parseJson<unknown>(row.payload), attempts: row.attempts + 1 };
      });
    });
  }

  async complete(id: string, owner: string): Promise<void> {
    await this.writes.groupWrite(() => this.st.complete.run(id, owner));
  }

  async retry(id: string, owner: string, retryAt: number, error: string): Promise<void> {
    await this.writes.groupWrite(() => this.st.retry.run(retryAt, error, id, owner));
  }

  async outboxStats(now: number): Promise<OutboxStats> {
    const row = this.conn.run(() => this.st.stats.get(now, now));
    return { depth: row?.depth ?? 0, ready: row?.ready ?? 0, oldestAgeMs: row?.oldest == null ? 0 : now - row.oldest };
  }
}
