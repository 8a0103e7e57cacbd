/**
 * Per-user comfort settings in Redis: a JSON string per (partner, user), in the basket's slot.
 */
import { parseJson, toJson } from '../shared/codec.js';
import type { BasketKey, ComfortSettings, ComfortStore } from '../store.js';
import { type RedisConnection } from './connection.js';
import type { RedisKeys } from './keys.js';

export class RedisComfort implements ComfortStore {
  private readonly keys: RedisKeys;

  constructor(private readonly conn: RedisConnection) {
    this.keys = conn.keys;
  }

  async getComfort(key: BasketKey): Promise<ComfortSettings | null> {
    const json = await this.conn.cmd((c) => c.get(this.keys.comfort(key)));
    return json === null ? null : parseJson<ComfortSettings>(json);
  }

  async putComfort(key: BasketKey, settings: ComfortSettings): Promise<void> {
    const value: ComfortSettings = { customerId: settings.customerId, paymentMethodId: settings.paymentMethodId, oneClick: settings.oneClick };
    await this.conn.cmd((c) => c.set(this.keys.comfort(key), toJson(value)));
  }
}
