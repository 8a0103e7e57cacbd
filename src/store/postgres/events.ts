/**
 * Tracking events in PostgreSQL: a row per event, one INSERT per batch (the recorder hands over a turn's events).
 *
 * Stable listing: identity values are drawn when a row is inserted but become visible when its transaction
 * commits, so id 7 may be seen before id 6 commits, and a cursor at 7 would skip 6 for good. Each row therefore
 * records its transaction's id (`tx`, xid8), the keyset is (tx, id), and a page ends before the first row whose
 * `tx` is not older than the oldest transaction still running (`pg_snapshot_xmin`): every transaction older than
 * that has ended, and every later row gets a newer `tx`, so nothing can appear behind a page already handed out.
 * Rows past that horizon are visible but not yet final; listEvents waits a little for the horizon to pass them
 * (a busy database moves it within milliseconds) before answering with what is final.
 */
import { CursorError } from '../store.js';
import type { EventInput, EventPage, EventStore, FunnelGroup, FunnelQuery } from '../store.js';
import { checkEventLimit, EVENT_COLUMNS, eventColumns, fromEventRow, mergeFunnel, type EventRow } from '../shared/events.js';
import type { PgConnection } from './connection.js';

const SQL_TYPES = ['text', 'bigint', 'text', 'text', 'text', 'integer', 'text', 'bigint', 'text', 'text', 'text', 'text', 'text', 'text', 'text', 'text'];
const COLUMN_COUNT = SQL_TYPES.length;

/** How long listEvents waits for running transactions to end before answering with the rows that are final. */
const HORIZON_WAIT_MS = 1000;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export class PgEvents implements EventStore {
  constructor(private readonly conn: PgConnection) {}

  async appendEvents(events: readonly EventInput[]): Promise<void> {
    if (events.length === 0) return;
    const columns: (string | number | null)[][] = Array.from({ length: COLUMN_COUNT }, () => []);
    for (const e of events) eventColumns(e).forEach((v, i) => columns[i]!.push(v));
    const params = SQL_TYPES.map((t, i) => `$${i + 1}::${t}[]`).join(', ');
    const names = EVENT_COLUMNS.split(',').map((c) => c.trim());
    // WITH ORDINALITY ... ORDER BY n: identities are drawn in the order given
    await this.conn.q(
      `INSERT INTO events (${EVENT_COLUMNS})
       SELECT ${names.join(', ')} FROM unnest(${params}) WITH ORDINALITY AS e(${names.join(', ')}, n) ORDER BY n`,
      columns,
    );
  }

  async listEvents(partnerId: string, after: string | null, limit: number): Promise<EventPage> {
    const n = checkEventLimit(limit);
    let tx = '0';
    let id = '0';
    if (after !== null) {
      const m = /^(\d{1,20})\.(\d{1,19})$/.exec(after);
      if (!m) throw new CursorError('event cursor is not valid');
      tx = m[1]!;
      id = m[2]!;
    }
    const deadline = Date.now() + HORIZON_WAIT_MS;
    for (;;) {
      const { rows } = await this.conn.q<EventRow & { tx: string; id: number; beyond: boolean }>(
        `SELECT tx::text AS tx, id, ${EVENT_COLUMNS}, tx >= pg_snapshot_xmin(pg_current_snapshot()) AS beyond
         FROM events WHERE partner_id = $1 AND (tx, id) > ($2::xid8, $3::bigint)
         ORDER BY tx, id LIMIT $4`,
        [partnerId, tx, id, n],
      );
      const final = rows.findIndex((r) => r.beyond);
      if (final === -1 || Date.now() >= deadline) {
        const page = final === -1 ? rows : rows.slice(0, final);
        const events = page.map((r) => ({ ...fromEventRow(r), id: `${r.tx}.${r.id}` }));
        return { events, next: events.length > 0 ? events[events.length - 1]!.id : null };
      }
      await sleep(10);
    }
  }

  async eventFunnel(q: FunnelQuery): Promise<FunnelGroup[]> {
    const where = `partner_id = $1 AND time >= $2 AND time < $3 AND ($4::text IS NULL OR session_id = $4)`;
    const values = [q.partnerId, q.from, q.to, q.sessionId ?? null];
    const [counts, paid] = await Promise.all([
      this.conn.q<{ provider: string | null; source: string | null; adds: number; users: number; checkouts: number }>(
        `SELECT provider, source,
           COUNT(*) FILTER (WHERE action IN ('assign', 'update') AND count > 0)::int AS adds,
           COUNT(DISTINCT user_key)::int AS users,
           COUNT(*) FILTER (WHERE action = 'checkout_start')::int AS checkouts
         FROM events WHERE ${where} GROUP BY provider, source`,
        values,
      ),
      this.conn.q<{ provider: string | null; source: string | null; currency: string; orders: number; value: number }>(
        `SELECT provider, source, currency, COUNT(*)::int AS orders, SUM(COALESCE(amount, 0))::bigint AS value
         FROM events WHERE ${where} AND action = 'order_paid' AND currency IS NOT NULL
         GROUP BY provider, source, currency`,
        values,
      ),
    ]);
    return mergeFunnel(counts.rows, paid.rows);
  }

  async purgeEvents(before: number, limit: number): Promise<number> {
    const { rowCount } = await this.conn.q(
      `DELETE FROM events e USING (
         SELECT partner_id, tx, id FROM events WHERE time < $1 LIMIT $2) d
       WHERE e.partner_id = d.partner_id AND e.tx = d.tx AND e.id = d.id`,
      [before, limit],
    );
    return rowCount ?? 0;
  }
}
