/**
 * Stock reservations in Redis: a record per reservation on its own slot fixes which lines it stands for, and each line
 * is one script on its product's slot, idempotent per reservation id. A reservation over several products is so a
 * sequence of single-slot scripts, ordered so that a crash in between leaves nothing a reader would trust, and a
 * repeat finishes the work of a call that crashed half-way.
 */
import { assertReserveCounts } from '../shared/checks.js';
import { parseJson, toJson } from '../shared/codec.js';
import { RESERVATION_RETENTION_MS, type ReservationState, type ReservationStore, type ReservedLine, type ReserveLine } from '../store.js';
import { list, num, str, type RedisConnection } from './connection.js';
import type { RedisKeys } from './keys.js';
import * as scripts from './scripts/index.js';

/** Reservation records outlive any checkout by far; their TTL only collects abandoned ones. */
const RESERVATION_TTL_MS = RESERVATION_RETENTION_MS;

function parseOutcome(value: unknown): number | null {
  const s = str(value);
  return s === 'n' ? null : num(s);
}

export class RedisReservations implements ReservationStore {
  private readonly keys: RedisKeys;

  constructor(private readonly conn: RedisConnection) {
    this.keys = conn.keys;
  }

  async reserveStock(partnerId: string, reservationId: string, lines: readonly ReserveLine[]): Promise<ReservedLine[]> {
    assertReserveCounts(lines);
    const recordKey = this.keys.reservation(partnerId, reservationId);
    // 1. The record fixes which lines this reservation id stands for (the first caller's).
    const begun = list(await this.conn.script(scripts.RESERVATION_BEGIN, [recordKey], [toJson(lines), RESERVATION_TTL_MS]));
    const stored = str(begun[2]);
    if (stored !== null) return parseJson<ReservedLine[]>(stored);
    const requested = parseJson<ReserveLine[]>(str(begun[1]) ?? '[]');
    // 2. Each line is one script on its product's slot, idempotent per reservation id: repeats (concurrent or
    //    after a crash) get the same outcome and reserve nothing more.
    const outcome = await Promise.all(
      requested.map(async (line): Promise<ReservedLine> => {
        const o = await this.conn.script(
          scripts.LINE_RESERVE,
          [this.keys.stock(partnerId, line.productId), this.keys.line(partnerId, line.productId, reservationId)],
          [line.count, RESERVATION_TTL_MS],
        );
        return { productId: line.productId, stocked: parseOutcome(o) };
      }),
    );
    // 3. The first stored outcome wins (all concurrent callers computed the same one anyway).
    const final = str(await this.conn.script(scripts.RESERVATION_FINISH, [recordKey], [toJson(outcome)]));
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
    const result = await this.conn.script(scripts.RESERVATION_SETTLE, [this.keys.reservation(partnerId, reservationId)], [to]);
    if (result === null) return false;
    const [moved, state, req] = list(result);
    const settled = str(state);
    if (settled !== 'released' && settled !== 'committed') return false;
    const requested = parseJson<ReserveLine[]>(str(req) ?? '[]');
    await Promise.all(
      requested.map((line) =>
        this.conn.script(
          scripts.LINE_SETTLE,
          [this.keys.stock(partnerId, line.productId), this.keys.line(partnerId, line.productId, reservationId)],
          [settled, line.count, RESERVATION_TTL_MS],
        ),
      ),
    );
    return num(moved) === 1;
  }

  /** Like settleReservation: the record moves once, then every line is returned (idempotent per line). */
  async returnReservation(partnerId: string, reservationId: string): Promise<boolean> {
    const result = await this.conn.script(scripts.RESERVATION_RETURN, [this.keys.reservation(partnerId, reservationId)], []);
    if (result === null) return false;
    const [moved, state, req] = list(result);
    if (str(state) !== 'returned') return false;
    const requested = parseJson<ReserveLine[]>(str(req) ?? '[]');
    await Promise.all(
      requested.map((line) =>
        this.conn.script(scripts.LINE_RETURN, [this.keys.stock(partnerId, line.productId), this.keys.line(partnerId, line.productId, reservationId)], []),
      ),
    );
    return num(moved) === 1;
  }

  async getReservationState(partnerId: string, reservationId: string): Promise<ReservationState | null> {
    const state = await this.conn.cmd((c) => c.hget(this.keys.reservation(partnerId, reservationId), 'st'));
    return state === 'reserved' || state === 'released' || state === 'committed' || state === 'returned' ? state : null;
  }
}
