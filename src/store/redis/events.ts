/**
 * Tracking events in Redis: a stream per partner (`{ev:<partner>}:events`, its own hash tag, so a Cluster spreads
 * partners over the masters), entry id = the event time in ms plus a sequence, the event as JSON in field `e`.
 * A batch is one script call per partner (EVENTS_APPEND). XADD hands out increasing ids atomically, so XRANGE after
 * a cursor is stable under concurrent writes. The funnel is summed here (Redis has no GROUP BY) from XRANGE pages
 * of the time range; the purge trims each partner's stream by id (XTRIM MINID), the partners listed in a set.
 */
import { CursorError } from '../store.js';
import type { EventInput, EventPage, EventStore, FunnelGroup, FunnelQuery, StoredEvent } from '../store.js';
import { checkEventLimit, FunnelAccumulator } from '../shared/events.js';
import { parseJson, toJson } from '../shared/codec.js';
import { num, str, type RedisConnection } from './connection.js';
import type { RedisKeys } from './keys.js';
import * as scripts from './scripts/index.js';

/** What a stream entry holds: the event without its partner (the key says it) and time (the id says it). */
type EntryData = Omit<EventInput, 'partnerId' | 'time'>;
type Entry = [id: string, fields: string[]];

/** Entries read per XRANGE while summing a funnel. */
const FUNNEL_PAGE = 1000;

export class RedisEvents implements EventStore {
  private readonly keys: RedisKeys;
  /** Partners this process has put into the partner set (one SADD per partner and process). */
  private readonly knownPartners = new Set<string>();

  constructor(private readonly conn: RedisConnection) {
    this.keys = conn.keys;
  }

  async appendEvents(events: readonly EventInput[]): Promise<void> {
    if (events.length === 0) return;
    const byPartner = new Map<string, (string | number)[]>();
    for (const e of events) {
      let args = byPartner.get(e.partnerId);
      if (args === undefined) byPartner.set(e.partnerId, (args = []));
      const { partnerId: _p, time, ...data } = e;
      args.push(time, toJson(data satisfies EntryData));
    }
    await Promise.all(
      [...byPartner].map(async ([partnerId, args]) => {
        if (!this.knownPartners.has(partnerId)) {
          await this.conn.cmd((c) => c.sadd(this.keys.eventPartners, partnerId));
          this.knownPartners.add(partnerId);
        }
        await this.conn.script(scripts.EVENTS_APPEND, [this.keys.events(partnerId)], args);
      }),
    );
  }

  private toEvent(partnerId: string, [id, fields]: Entry): StoredEvent {
    const json = fields[fields.indexOf('e') + 1] ?? 'null';
    const data = parseJson<EntryData>(json);
    return { ...data, partnerId, time: num(id.slice(0, id.indexOf('-'))), id };
  }

  async listEvents(partnerId: string, after: string | null, limit: number): Promise<EventPage> {
    const n = checkEventLimit(limit);
    if (after !== null && !/^\d{1,15}-\d{1,19}$/.test(after)) throw new CursorError('event cursor is not valid');
    const key = this.keys.events(partnerId);
    const entries = (await this.conn.cmd((c) => c.xrange(key, after === null ? '-' : `(${after}`, '+', 'COUNT', n))) as Entry[];
    const events = entries.map((entry) => this.toEvent(partnerId, entry));
    return { events, next: events.length > 0 ? events[events.length - 1]!.id : null };
  }

  async eventFunnel(q: FunnelQuery): Promise<FunnelGroup[]> {
    const acc = new FunnelAccumulator();
    if (q.to <= q.from) return acc.result();
    const key = this.keys.events(q.partnerId);
    const session = q.sessionId ?? null;
    const end = String(q.to - 1);
    let start = String(Math.max(0, q.from));
    for (;;) {
      const entries = (await this.conn.cmd((c) => c.xrange(key, start, end, 'COUNT', FUNNEL_PAGE))) as Entry[];
      for (const entry of entries) {
        const e = this.toEvent(q.partnerId, entry);
        if (session === null || e.sessionId === session) acc.add(e);
      }
      if (entries.length < FUNNEL_PAGE) return acc.result();
      start = `(${entries[entries.length - 1]![0]}`;
    }
  }

  /** Exact, one XTRIM per partner stream: `limit` does not bound it (XTRIM's LIMIT only comes with approximate trimming). */
  async purgeEvents(before: number, _limit: number): Promise<number> {
    const partners = (await this.conn.cmd((c) => c.smembers(this.keys.eventPartners))).map((p) => str(p) ?? '');
    let purged = 0;
    for (const partnerId of partners) {
      purged += num(await this.conn.cmd((c) => c.xtrim(this.keys.events(partnerId), 'MINID', before)));
    }
    return purged;
  }
}
