/**
 * Engine-neutral pieces of the EventStore: argument checks, the funnel's definition for a store that cannot group
 * (Redis), the merge of the SQL engines' two GROUP BYs, and the order groups are answered in.
 */
import type { EventInput, FunnelGroup, FunnelPaid } from '../store.js';

/** The largest page listEvents hands out; a bigger limit is clamped. */
export const MAX_EVENT_PAGE = 1000;

export function checkEventLimit(limit: number): number {
  if (!Number.isSafeInteger(limit) || limit < 1) throw new RangeError(`limit must be a positive integer, not ${limit}`);
  return Math.min(limit, MAX_EVENT_PAGE);
}

/** An event that counts as an add to the cart. */
export function isAdd(e: Pick<EventInput, 'action' | 'count'>): boolean {
  return (e.action === 'assign' || e.action === 'update') && e.count !== null && e.count > 0;
}

/** Code-unit order with null first, as the SQL engines sort ("C" collation, NULLS FIRST). */
function compareNullable(a: string | null, b: string | null): number {
  if (a === b) return 0;
  if (a === null) return -1;
  if (b === null) return 1;
  return a < b ? -1 : 1;
}

export function sortFunnel(groups: FunnelGroup[]): FunnelGroup[] {
  for (const g of groups) g.paid.sort((a, b) => compareNullable(a.currency, b.currency));
  return groups.sort((a, b) => compareNullable(a.provider, b.provider) || compareNullable(a.source, b.source));
}

const groupKey = (provider: string | null, source: string | null): string => JSON.stringify([provider, source]);

/** The funnel computed from the events themselves (a store without GROUP BY). */
export class FunnelAccumulator {
  private readonly groups = new Map<string, { group: FunnelGroup; users: Set<string>; paid: Map<string, FunnelPaid> }>();

  add(e: EventInput): void {
    const key = groupKey(e.provider, e.source);
    let entry = this.groups.get(key);
    if (entry === undefined) {
      entry = { group: { provider: e.provider, source: e.source, adds: 0, users: 0, checkoutsStarted: 0, paid: [] }, users: new Set(), paid: new Map() };
      this.groups.set(key, entry);
    }
    entry.users.add(e.user);
    if (isAdd(e)) entry.group.adds++;
    if (e.action === 'checkout_start') entry.group.checkoutsStarted++;
    if (e.action === 'order_paid' && e.currency !== null) {
      let paid = entry.paid.get(e.currency);
      if (paid === undefined) entry.paid.set(e.currency, (paid = { currency: e.currency, orders: 0, value: 0 }));
      paid.orders++;
      paid.value += e.amount ?? 0;
    }
  }

  result(): FunnelGroup[] {
    return sortFunnel([...this.groups.values()].map(({ group, users, paid }) => ({ ...group, users: users.size, paid: [...paid.values()] })));
  }
}

/** What the SQL engines' GROUP BYs return, merged into groups. */
export function mergeFunnel(
  counts: readonly { provider: string | null; source: string | null; adds: number; users: number; checkouts: number }[],
  paid: readonly { provider: string | null; source: string | null; currency: string; orders: number; value: number }[],
): FunnelGroup[] {
  const groups = new Map<string, FunnelGroup>();
  for (const c of counts) {
    groups.set(groupKey(c.provider, c.source), { provider: c.provider, source: c.source, adds: Number(c.adds), users: Number(c.users), checkoutsStarted: Number(c.checkouts), paid: [] });
  }
  for (const p of paid) {
    groups.get(groupKey(p.provider, p.source))?.paid.push({ currency: p.currency, orders: Number(p.orders), value: Number(p.value) });
  }
  return sortFunnel([...groups.values()]);
}

/** The columns of an event, in the order the SQL engines store them. */
export function eventColumns(e: EventInput): (string | number | null)[] {
  return [e.partnerId, e.time, e.action, e.user, e.productId, e.count, e.orderNo, e.amount, e.currency, e.outcome, e.sessionId, e.startTime, e.source, e.provider, e.tracking, e.apiVersion];
}

export const EVENT_COLUMNS =
  'partner_id, time, action, user_key, product_id, count, order_no, amount, currency, outcome, session_id, start_time, source, provider, tracking, api_version';

/** A stored row (SQL column names) back into an event. */
export interface EventRow {
  partner_id: string;
  time: number;
  action: string;
  user_key: string;
  product_id: string | null;
  count: number | null;
  order_no: string | null;
  amount: number | null;
  currency: string | null;
  outcome: string | null;
  session_id: string | null;
  start_time: string | null;
  source: string | null;
  provider: string | null;
  tracking: string;
  api_version: string | null;
}

export function fromEventRow(row: EventRow): EventInput {
  return {
    partnerId: row.partner_id,
    time: Number(row.time),
    action: row.action as EventInput['action'],
    user: row.user_key,
    productId: row.product_id,
    count: row.count === null ? null : Number(row.count),
    orderNo: row.order_no,
    amount: row.amount === null ? null : Number(row.amount),
    currency: row.currency,
    outcome: row.outcome,
    sessionId: row.session_id,
    startTime: row.start_time,
    source: row.source,
    provider: row.provider,
    tracking: row.tracking as EventInput['tracking'],
    apiVersion: row.api_version,
  };
}
