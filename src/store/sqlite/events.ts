/**
 * Tracking events in SQLite: a row per event with an AUTOINCREMENT id, the partner's keyset cursor. Appends join
 * the group commit (one savepoint per batch, in the same transaction as the turn's basket writes), so ids are
 * handed out under the file's write lock in commit order: a reader never sees id n + 1 before id n.
 */
import { CursorError } from '../store.js';
import type { EventInput, EventPage, EventStore, FunnelGroup, FunnelQuery } from '../store.js';
import { checkEventLimit, EVENT_COLUMNS, eventColumns, fromEventRow, mergeFunnel, type EventRow } from '../shared/events.js';
import { SqliteConcern, type Db, type SqliteConnection } from './connection.js';
import type { GroupCommit } from './group-commit.js';

type Col = string | number | null;

interface CountRow {
  provider: string | null;
  source: string | null;
  adds: number;
  users: number;
  checkouts: number;
}
interface PaidRow {
  provider: string | null;
  source: string | null;
  currency: string;
  orders: number;
  value: number;
}

const COUNTS = `SELECT provider, source,
    SUM(CASE WHEN action IN ('assign', 'update') AND count > 0 THEN 1 ELSE 0 END) AS adds,
    COUNT(DISTINCT user_key) AS users,
    SUM(CASE WHEN action = 'checkout_start' THEN 1 ELSE 0 END) AS checkouts
  FROM events WHERE partner_id = ? AND time >= ? AND time < ?`;
const PAID = `SELECT provider, source, currency, COUNT(*) AS orders, SUM(COALESCE(amount, 0)) AS value
  FROM events WHERE partner_id = ? AND time >= ? AND time < ? AND action = 'order_paid' AND currency IS NOT NULL`;

function prepareStatements(db: Db) {
  return {
    append: db.prepare<Col[]>(`INSERT INTO events (${EVENT_COLUMNS}) VALUES (${EVENT_COLUMNS.split(',').map(() => '?').join(', ')})`),
    list: db.prepare<[string, number, number], EventRow & { id: number }>(
      `SELECT id, ${EVENT_COLUMNS} FROM events WHERE partner_id = ? AND id > ? ORDER BY id LIMIT ?`,
    ),
    counts: db.prepare<[string, number, number], CountRow>(`${COUNTS} GROUP BY provider, source`),
    countsOfSession: db.prepare<[string, number, number, string], CountRow>(`${COUNTS} AND session_id = ? GROUP BY provider, source`),
    paid: db.prepare<[string, number, number], PaidRow>(`${PAID} GROUP BY provider, source, currency`),
    paidOfSession: db.prepare<[string, number, number, string], PaidRow>(`${PAID} AND session_id = ? GROUP BY provider, source, currency`),
    purge: db.prepare<[number, number]>('DELETE FROM events WHERE id IN (SELECT id FROM events WHERE time < ? LIMIT ?)'),
  };
}

export class SqliteEvents extends SqliteConcern<ReturnType<typeof prepareStatements>> implements EventStore {
  protected prepareStatements(db: Db) {
    return prepareStatements(db);
  }

  async appendEvents(events: readonly EventInput[]): Promise<void> {
    if (events.length === 0) return;
    await this.writes.writeTransaction(() => {
      for (const e of events) this.st.append.run(...eventColumns(e));
    });
  }

  async listEvents(partnerId: string, after: string | null, limit: number): Promise<EventPage> {
    const n = checkEventLimit(limit);
    let from = 0;
    if (after !== null) {
      if (!/^\d{1,15}$/.test(after)) throw new CursorError('event cursor is not valid');
      from = Number(after);
    }
    const rows = this.conn.run(() => this.st.list.all(partnerId, from, n));
    const events = rows.map((r) => ({ ...fromEventRow(r), id: String(r.id) }));
    return { events, next: events.length > 0 ? events[events.length - 1]!.id : null };
  }

  async eventFunnel(q: FunnelQuery): Promise<FunnelGroup[]> {
    const { partnerId, from, to } = q;
    const session = q.sessionId ?? null;
    return this.conn.run(() => {
      const counts = session === null ? this.st.counts.all(partnerId, from, to) : this.st.countsOfSession.all(partnerId, from, to, session);
      const paid = session === null ? this.st.paid.all(partnerId, from, to) : this.st.paidOfSession.all(partnerId, from, to, session);
      return mergeFunnel(counts, paid);
    });
  }

  async purgeEvents(before: number, limit: number): Promise<number> {
    return this.writes.groupWrite(() => this.st.purge.run(before, limit).changes);
  }
}
