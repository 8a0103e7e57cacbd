/**
 * Basket change notifications in PostgreSQL: every committed basket write runs `pg_notify` in the same
 * statement/transaction (baskets.ts), so the notification is delivered exactly when the write commits; each store
 * LISTENs on one dedicated connection and tells its listeners of other stores' writes.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { decodeChange } from '../shared/codec.js';
import { warnConnection } from '../shared/outage-log.js';
import { BasketChangeListeners } from '../shared/listeners.js';
import { mapError, type PgConnection } from './connection.js';

export class PgNotifications {
  readonly listeners = new BasketChangeListeners();
  /** Identifies this store in notifications, so it does not report its own writes twice. */
  readonly origin = randomUUID();
  readonly channel: string;
  private listenClient: pg.Client | null = null;

  constructor(private readonly conn: PgConnection) {
    this.channel = `basket_change:${conn.schema}`;
  }

  /** One dedicated connection LISTENs for changes made through other store instances (other processes). */
  async listen(): Promise<void> {
    if (this.listenClient !== null || this.conn.closed) return;
    const client = new pg.Client(this.conn.clientConfig);
    this.listenClient = client;
    client.on('notification', (msg) => {
      if (msg.channel !== this.channel || msg.payload === undefined) return;
      const changed = decodeChange(msg.payload, this.origin);
      if (changed !== null) this.listeners.emit(changed, true);
    });
    client.on('error', (error) => {
      warnConnection(`PostgreSQL LISTEN connection error: ${error.message}`);
      if (this.listenClient === client) this.listenClient = null;
      client.end().catch(() => undefined);
      // Reconnect in the background; changes made meanwhile by other processes are not reported.
      if (!this.conn.closed) setTimeout(() => void this.listen().catch(() => undefined), 1000).unref();
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${pg.escapeIdentifier(this.channel)}`);
    } catch (error) {
      if (this.listenClient === client) this.listenClient = null;
      await client.end().catch(() => undefined);
      throw mapError(error);
    }
  }

  /** Hands over the LISTEN connection for close() to end. */
  detach(): pg.Client | null {
    const listener = this.listenClient;
    this.listenClient = null;
    return listener;
  }
}
