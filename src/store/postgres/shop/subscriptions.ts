/**
 * Shop subscriptions in PostgreSQL: a row per (partner, subscription id), the subscription as JSONB, its name unique
 * per partner (the constraint also settles two concurrent calls taking one name). Updates hold the row lock.
 */
import type { Subscription } from '../../../domain/shop/records.js';
import { callerFn } from '../../shared/checks.js';
import { toJson } from '../../shared/codec.js';
import { assertSameSubscriptionKey, checkSubscriptionBatch } from '../../shared/shop.js';
import { SubscriptionNameConflictError } from '../../store.js';
import type { PgConnection } from '../connection.js';

const UNIQUE_VIOLATION = '23505';

function isUniqueViolation(error: unknown): boolean {
  return typeof error === 'object' && error !== null && 'code' in error && error.code === UNIQUE_VIOLATION;
}

export class PgShopSubscriptions {
  constructor(private readonly conn: PgConnection) {}

  async putSubscriptions(partnerId: string, subscriptions: readonly Subscription[]): Promise<void> {
    const batch = checkSubscriptionBatch(partnerId, subscriptions);
    if (batch.length === 0) return;
    await this.conn.tx(async (c) => {
      // The call's own rows go first, so that names moving between its subscriptions do not conflict.
      await c.query('DELETE FROM shop_subscriptions WHERE partner_id = $1 AND subscription_id = ANY($2::text[])', [partnerId, batch.map((s) => s.id)]);
      for (const s of batch) {
        try {
          await c.query(
            `INSERT INTO shop_subscriptions (partner_id, subscription_id, name, data) VALUES ($1, $2, $3, $4::jsonb)
             ON CONFLICT (partner_id, subscription_id) DO UPDATE SET name = EXCLUDED.name, data = EXCLUDED.data`,
            [partnerId, s.id, s.name, toJson(s)],
          );
        } catch (error) {
          // only the name can conflict: the id's conflict is an update
          if (isUniqueViolation(error)) throw new SubscriptionNameConflictError(s.name);
          throw error;
        }
      }
    });
  }

  async getSubscription(partnerId: string, id: string): Promise<Subscription | null> {
    const { rows } = await this.conn.q<{ data: Subscription }>(
      'SELECT data FROM shop_subscriptions WHERE partner_id = $1 AND subscription_id = $2',
      [partnerId, id],
    );
    return rows[0]?.data ?? null;
  }

  async getSubscriptionByName(partnerId: string, name: string): Promise<Subscription | null> {
    const { rows } = await this.conn.q<{ data: Subscription }>('SELECT data FROM shop_subscriptions WHERE partner_id = $1 AND name = $2', [partnerId, name]);
    return rows[0]?.data ?? null;
  }

  updateSubscription(partnerId: string, id: string, fn: (subscription: Subscription) => Subscription | null): Promise<Subscription | null> {
    return this.conn.tx(async (c) => {
      const { rows } = await c.query<{ data: Subscription }>(
        'SELECT data FROM shop_subscriptions WHERE partner_id = $1 AND subscription_id = $2 FOR UPDATE',
        [partnerId, id],
      );
      const current = rows[0]?.data;
      if (current === undefined) return null;
      const next = callerFn(() => fn(current));
      if (next === null) return current;
      assertSameSubscriptionKey(next, current);
      await c.query('UPDATE shop_subscriptions SET data = $3::jsonb WHERE partner_id = $1 AND subscription_id = $2', [partnerId, id, toJson(next)]);
      return next;
    });
  }
}
