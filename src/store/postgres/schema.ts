/**
 * The PostgreSQL schema: the migrations and how they are applied, in one transaction under
 * `pg_advisory_xact_lock`, so processes starting together migrate once.
 */
import pg from 'pg';
import type { PgConnection } from './connection.js';

/**
 * Append-only: entry i brings the schema to version i + 1. Never edit a shipped entry.
 * Times are epoch milliseconds (BIGINT). Key columns use the "C" collation so that ordering matches the other
 * adapters (code-unit order). Every per-user table leads with (partner_id, user_id), every per-partner table
 * with partner_id, so that they can be distributed on Citus (docs/scaling.md).
 */
export const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE baskets (
    partner_id   TEXT    COLLATE "C" NOT NULL,
    user_id      TEXT    COLLATE "C" NOT NULL,
    version      INTEGER NOT NULL,
    expires      BIGINT  NOT NULL,
    has_checkout BOOLEAN NOT NULL,
    data         JSONB   NOT NULL,
    PRIMARY KEY (partner_id, user_id)
  );
  CREATE INDEX baskets_purge ON baskets (expires) WHERE NOT has_checkout;

  CREATE TABLE products (
    partner_id TEXT    COLLATE "C" NOT NULL,
    product_id TEXT    COLLATE "C" NOT NULL,
    stock      INTEGER NULL,
    reserved   INTEGER NOT NULL DEFAULT 0 CHECK (reserved >= 0),
    data       JSONB   NOT NULL,
    PRIMARY KEY (partner_id, product_id)
  );

  CREATE TABLE reservations (
    partner_id     TEXT  COLLATE "C" NOT NULL,
    reservation_id TEXT  COLLATE "C" NOT NULL,
    lines          JSONB NOT NULL,
    state          TEXT  NOT NULL CHECK (state IN ('reserved', 'released', 'committed')),
    PRIMARY KEY (partner_id, reservation_id)
  );

  CREATE TABLE transfers (
    token_hash TEXT   COLLATE "C" PRIMARY KEY,
    partner_id TEXT   NOT NULL,
    user_id    TEXT   NOT NULL,
    url        TEXT   NOT NULL,
    expires    BIGINT NOT NULL
  );
  CREATE INDEX transfers_expires ON transfers (expires);

  CREATE TABLE orders (
    partner_id       TEXT   COLLATE "C" NOT NULL,
    order_no         TEXT   COLLATE "C" NOT NULL,
    user_id          TEXT   COLLATE "C" NOT NULL,
    payment_provider TEXT   COLLATE "C" NOT NULL,
    payment_ref      TEXT   COLLATE "C" NULL,
    created          BIGINT NOT NULL,
    data             JSONB  NOT NULL,
    PRIMARY KEY (partner_id, order_no)
  );
  CREATE INDEX orders_payment_ref ON orders (payment_provider, payment_ref) WHERE payment_ref IS NOT NULL;
  CREATE INDEX orders_by_user ON orders (partner_id, user_id, created DESC, order_no DESC);

  CREATE TABLE outbox (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    topic        TEXT   COLLATE "C" NOT NULL,
    key          TEXT   COLLATE "C" NOT NULL,
    payload      JSONB  NOT NULL,
    available_at BIGINT NOT NULL,
    claimed_by   TEXT   NULL,
    claim_until  BIGINT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    last_error   TEXT   NULL,
    UNIQUE (topic, key)
  );
  CREATE INDEX outbox_available ON outbox (available_at, id);

  CREATE TABLE idempotency (
    scope       TEXT   COLLATE "C" NOT NULL,
    key         TEXT   COLLATE "C" NOT NULL,
    fingerprint TEXT   NOT NULL,
    state       TEXT   NOT NULL CHECK (state IN ('running', 'done')),
    response    JSONB  NULL,
    lease_until BIGINT NULL,
    expires     BIGINT NOT NULL,
    PRIMARY KEY (scope, key)
  );
  CREATE INDEX idempotency_expires ON idempotency (expires);

  CREATE TABLE comfort (
    partner_id        TEXT    COLLATE "C" NOT NULL,
    user_id           TEXT    COLLATE "C" NOT NULL,
    customer_id       TEXT    NULL,
    payment_method_id TEXT    NULL,
    one_click         BOOLEAN NOT NULL,
    PRIMARY KEY (partner_id, user_id)
  );
  `,
  // When a reservation was released or committed, so that settled ones can be purged after the retention. Those
  // settled before this migration count from the migration.
  `
  ALTER TABLE reservations ADD COLUMN finished BIGINT NULL;
  UPDATE reservations SET finished = (extract(epoch from now()) * 1000)::bigint WHERE state <> 'reserved';
  CREATE INDEX reservations_finished ON reservations (finished) WHERE finished IS NOT NULL;
  `,
  // A fourth reservation state, `returned`: committed, then put back on stock (docs/checkout.md).
  `
  ALTER TABLE reservations DROP CONSTRAINT reservations_state_check;
  ALTER TABLE reservations ADD CONSTRAINT reservations_state_check
    CHECK (state IN ('reserved', 'released', 'committed', 'returned'));
  `,
  // Tracking events (issue 23). The keyset is (tx, id): the appending transaction's id, then the identity. Listing
  // stops at the oldest transaction still running (src/store/postgres/events.ts), so an identity value that
  // commits late never appears behind a cursor already handed out.
  `
  CREATE TABLE events (
    partner_id  TEXT   COLLATE "C" NOT NULL,
    tx          xid8   NOT NULL DEFAULT pg_current_xact_id(),
    id          BIGINT GENERATED ALWAYS AS IDENTITY,
    time        BIGINT NOT NULL,
    action      TEXT   NOT NULL,
    user_key    TEXT   NOT NULL,
    product_id  TEXT   NULL,
    count       INTEGER NULL,
    order_no    TEXT   NULL,
    amount      BIGINT NULL,
    currency    TEXT   NULL,
    outcome     TEXT   NULL,
    session_id  TEXT   NULL,
    start_time  TEXT   NULL,
    source      TEXT   NULL,
    provider    TEXT   NULL,
    tracking    TEXT   NOT NULL,
    api_version TEXT   NULL,
    PRIMARY KEY (partner_id, tx, id)
  );
  CREATE INDEX events_by_time ON events (partner_id, time);
  CREATE INDEX events_purge ON events (time);
  `,
  // The shop surface (issue 19, src/store/interface/shop.ts). Records as JSONB; the columns are what is indexed.
  // shop_baskets_open serves the abandoned listing: open baskets only, in (created, id) order, with expires in it
  // so that the expiry filter is answered from the index.
  `
  CREATE TABLE shop_offers (
    partner_id TEXT  COLLATE "C" NOT NULL,
    offer_id   TEXT  COLLATE "C" NOT NULL,
    version    TEXT  COLLATE "C" NOT NULL,
    data       JSONB NOT NULL,
    PRIMARY KEY (partner_id, offer_id, version)
  );
  CREATE TABLE shop_offer_newest (
    partner_id TEXT COLLATE "C" NOT NULL,
    offer_id   TEXT COLLATE "C" NOT NULL,
    version    TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (partner_id, offer_id)
  );

  CREATE TABLE shop_baskets (
    partner_id  TEXT    COLLATE "C" NOT NULL,
    basket_id   TEXT    COLLATE "C" NOT NULL,
    version     INTEGER NOT NULL,
    status      TEXT    NOT NULL,
    external_id TEXT    COLLATE "C" NULL,
    created     BIGINT  NOT NULL,
    expires     BIGINT  NOT NULL,
    data        JSONB   NOT NULL,
    PRIMARY KEY (partner_id, basket_id)
  );
  CREATE INDEX shop_baskets_open ON shop_baskets (partner_id, created, basket_id) INCLUDE (expires) WHERE status = 'open';
  CREATE INDEX shop_baskets_expires ON shop_baskets (expires);

  CREATE TABLE shop_external_ids (
    partner_id  TEXT COLLATE "C" NOT NULL,
    external_id TEXT COLLATE "C" NOT NULL,
    basket_id   TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (partner_id, external_id)
  );

  CREATE TABLE shop_orders (
    partner_id       TEXT  COLLATE "C" NOT NULL,
    order_id         TEXT  COLLATE "C" NOT NULL,
    payment_provider TEXT  COLLATE "C" NULL,
    payment_ref      TEXT  COLLATE "C" NULL,
    data             JSONB NOT NULL,
    PRIMARY KEY (partner_id, order_id)
  );
  CREATE INDEX shop_orders_payment_ref ON shop_orders (payment_provider, payment_ref) WHERE payment_ref IS NOT NULL;

  CREATE TABLE shop_subscriptions (
    partner_id      TEXT  COLLATE "C" NOT NULL,
    subscription_id TEXT  COLLATE "C" NOT NULL,
    name            TEXT  COLLATE "C" NOT NULL,
    data            JSONB NOT NULL,
    PRIMARY KEY (partner_id, subscription_id),
    UNIQUE (partner_id, name)
  );
  `,
  // The holder of a running idempotency record (a random token from its begin): only it may finish or abandon the
  // record. A record begun before this migration has none, so nobody can; its lease lapses and the next begin takes
  // it over with a holder.
  `
  ALTER TABLE idempotency ADD COLUMN holder TEXT NULL;
  `,
];

/** Migrating may wait for another process's migration and rebuild tables: far longer than one request may take. */
const MIGRATION_TIMEOUT_MS = 10 * 60_000;

export async function migrate(conn: PgConnection): Promise<void> {
  await conn.tx(async (c) => {
    // The pool's statement and query timeouts (STORE_TIMEOUT) are for requests; a migration gets its own.
    const run = <R extends pg.QueryResultRow>(text: string, values: unknown[] = []) =>
      c.query<R>({ text, values, query_timeout: MIGRATION_TIMEOUT_MS } as pg.QueryConfig);
    await run(`SET LOCAL statement_timeout = ${MIGRATION_TIMEOUT_MS}`);
    // One lock per schema: processes starting together queue here and the later ones find the work done.
    await run('SELECT pg_advisory_xact_lock(hashtext($1))', [`basket-migrate:${conn.schema}`]);
    await run(`CREATE SCHEMA IF NOT EXISTS ${pg.escapeIdentifier(conn.schema)}`);
    await run(`CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied BIGINT NOT NULL)`);
    const { rows } = await run<{ v: number | null }>('SELECT max(version) AS v FROM schema_migrations');
    const current = rows[0]?.v ?? 0;
    if (current > MIGRATIONS.length) {
      throw new Error(`database schema version ${current} is newer than this build (${MIGRATIONS.length})`);
    }
    for (let v = current; v < MIGRATIONS.length; v++) {
      await run(MIGRATIONS[v] ?? '');
      await run('INSERT INTO schema_migrations (version, applied) VALUES ($1, $2)', [v + 1, Date.now()]);
    }
  });
}
