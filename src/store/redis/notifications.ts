/**
 * Basket change notifications in Redis: every committed basket write publishes on the store's channel in the
 * same script (scripts/baskets.ts); each store subscribes on its own connection and tells its listeners of other
 * stores' writes.
 */
import { randomUUID } from 'node:crypto';
import { decodeChange } from '../shared/codec.js';
import { BasketChangeListeners } from '../shared/listeners.js';
import type { RedisConnection } from './connection.js';

export class RedisNotifications {
  readonly listeners = new BasketChangeListeners();
  /** Identifies this store in notifications, so it does not report its own writes twice. */
  readonly origin = randomUUID();
  readonly channel: string;
  private subscribed = false;

  constructor(private readonly conn: RedisConnection) {
    this.channel = `${conn.keys.prefix}basket-change`;
    conn.subscriber.on('message', (channel: string, message: string) => this.onMessage(channel, message));
  }

  async subscribe(): Promise<void> {
    if (this.subscribed) return;
    await this.conn.cmd(() => this.conn.subscriber.subscribe(this.channel));
    this.subscribed = true;
  }

  private onMessage(channel: string, message: string): void {
    if (channel !== this.channel) return;
    // Our own writes were reported synchronously after the commit; decodeChange drops them.
    const changed = decodeChange(message, this.origin);
    if (changed !== null) this.listeners.emit(changed, true);
  }
}
