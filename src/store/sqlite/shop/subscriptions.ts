/**
 * Shop subscriptions in SQLite: a row per (partner, subscription id), the subscription as JSON, its name unique per
 * partner. putSubscriptions and updateSubscription are transactions under the file's write lock.
 */
import type { Subscription } from '../../../domain/shop/records.js';
import { callerFn } from '../../shared/checks.js';
import { parseJson, toJson } from '../../shared/codec.js';
import { assertSameSubscriptionKey, checkSubscriptionBatch } from '../../shared/shop.js';
import { SubscriptionNameConflictError } from '../../store.js';
import { SqliteConcern, type Db } from '../connection.js';

function prepareStatements(db: Db) {
  return {
    get: db.prepare<[string, string], string>('SELECT data FROM shop_subscriptions WHERE partner_id = ? AND subscription_id = ?').pluck(),
    getByName: db.prepare<[string, string], string>('SELECT data FROM shop_subscriptions WHERE partner_id = ? AND name = ?').pluck(),
    ownerOfName: db.prepare<[string, string], string>('SELECT subscription_id FROM shop_subscriptions WHERE partner_id = ? AND name = ?').pluck(),
    delete: db.prepare<[string, string]>('DELETE FROM shop_subscriptions WHERE partner_id = ? AND subscription_id = ?'),
    insert: db.prepare<[string, string, string, string]>(
      'INSERT INTO shop_subscriptions (partner_id, subscription_id, name, data) VALUES (?, ?, ?, ?)',
    ),
    update: db.prepare<[string, string, string]>('UPDATE shop_subscriptions SET data = ? WHERE partner_id = ? AND subscription_id = ?'),
  };
}

export class SqliteShopSubscriptions extends SqliteConcern<ReturnType<typeof prepareStatements>> {
  protected prepareStatements(db: Db) {
    return prepareStatements(db);
  }

  async putSubscriptions(partnerId: string, subscriptions: readonly Subscription[]): Promise<void> {
    const batch = checkSubscriptionBatch(partnerId, subscriptions);
    if (batch.length === 0) return;
    await this.writes.writeTransaction(() => {
      // The call's own rows go first, so that names moving between its subscriptions do not conflict.
      for (const s of batch) this.st.delete.run(partnerId, s.id);
      for (const s of batch) {
        if (this.st.ownerOfName.get(partnerId, s.name) !== undefined) throw new SubscriptionNameConflictError(s.name);
        this.st.insert.run(partnerId, s.id, s.name, toJson(s));
      }
    });
  }

  async getSubscription(partnerId: string, id: string): Promise<Subscription | null> {
    const json = this.conn.run(() => this.st.get.get(partnerId, id));
    return json === undefined ? null : parseJson<Subscription>(json);
  }

  async getSubscriptionByName(partnerId: string, name: string): Promise<Subscription | null> {
    const json = this.conn.run(() => this.st.getByName.get(partnerId, name));
    return json === undefined ? null : parseJson<Subscription>(json);
  }

  updateSubscription(partnerId: string, id: string, fn: (subscription: Subscription) => Subscription | null): Promise<Subscription | null> {
    return this.writes.writeTransaction((): Subscription | null => {
      const json = this.st.get.get(partnerId, id);
      if (json === undefined) return null;
      const current = parseJson<Subscription>(json);
      const next = callerFn(() => fn(current));
      if (next === null) return current;
      assertSameSubscriptionKey(next, current);
      this.st.update.run(toJson(next), partnerId, id);
      return next;
    });
  }
}
