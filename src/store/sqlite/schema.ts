/**
 * The SQLite schema: the migrations, how they are applied, and the pragmas a file connection is opened with.
 */
import type Database from 'better-sqlite3';

type Db = Database.Database;

const HOUR_MS = 3_600_000;

/** Append-only: migration i brings the schema to user_version i + 1. Never edit a shipped entry. */
export const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE baskets (
    partner_id   TEXT    NOT NULL,
    user_id      TEXT    NOT NULL,
    version      INTEGER NOT NULL,
    expires      INTEGER NOT NULL,
    has_checkout INTEGER NOT NULL,
    data         TEXT    NOT NULL,
    PRIMARY KEY (partner_id, user_id)
  ) WITHOUT ROWID;
  CREATE INDEX baskets_purge ON baskets (expires) WHERE has_checkout = 0;

  CREATE TABLE products (
    partner_id TEXT    NOT NULL,
    product_id TEXT    NOT NULL,
    stock      INTEGER NULL,
    reserved   INTEGER NOT NULL DEFAULT 0,
    data       TEXT    NOT NULL,
    PRIMARY KEY (partner_id, product_id)
  ) WITHOUT ROWID;

  CREATE TABLE reservations (
    partner_id     TEXT NOT NULL,
    reservation_id TEXT NOT NULL,
    lines          TEXT NOT NULL,
    state          TEXT NOT NULL CHECK (state IN ('reserved', 'released', 'committed')),
    PRIMARY KEY (partner_id, reservation_id)
  );

  CREATE TABLE transfers (
    token_hash TEXT    PRIMARY KEY,
    partner_id TEXT    NOT NULL,
    user_id    TEXT    NOT NULL,
    url        TEXT    NOT NULL,
    expires    INTEGER NOT NULL
  );
  CREATE INDEX transfers_expires ON transfers (expires);

  CREATE TABLE orders (
    partner_id       TEXT    NOT NULL,
    order_no         TEXT    NOT NULL,
    user_id          TEXT    NOT NULL,
    payment_provider TEXT    NOT NULL,
    payment_ref      TEXT    NULL,
    created          INTEGER NOT NULL,
    data             TEXT    NOT NULL,
    PRIMARY KEY (partner_id, order_no)
  );
  CREATE INDEX orders_payment_ref ON orders (payment_provider, payment_ref) WHERE payment_ref IS NOT NULL;
  CREATE INDEX orders_by_user ON orders (partner_id, user_id, created DESC, order_no DESC);

  CREATE TABLE outbox (
    id           TEXT    PRIMARY KEY,
    topic        TEXT    NOT NULL,
    key          TEXT    NOT NULL,
    payload      TEXT    NOT NULL,
    available_at INTEGER NOT NULL,
    claimed_by   TEXT    NULL,
    claim_until  INTEGER NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    last_error   TEXT    NULL,
    UNIQUE (topic, key)
  );
  CREATE INDEX outbox_available ON outbox (available_at);

  CREATE TABLE idempotency (
    scope       TEXT    NOT NULL,
    key         TEXT    NOT NULL,
    fingerprint TEXT    NOT NULL,
    state       TEXT    NOT NULL CHECK (state IN ('running', 'done')),
    response    TEXT    NULL,
    lease_until INTEGER NULL,
    expires     INTEGER NOT NULL,
    PRIMARY KEY (scope, key)
  );
  CREATE INDEX idempotency_expires ON idempotency (expires);

  CREATE TABLE comfort (
    partner_id        TEXT    NOT NULL,
    user_id           TEXT    NOT NULL,
    customer_id       TEXT    NULL,
    payment_method_id TEXT    NULL,
    one_click         INTEGER NOT NULL,
    PRIMARY KEY (partner_id, user_id)
  );
  `,
  // The purge index on expires changed with every basket write (the expiry slides on each change): a page write
  // per update. Indexed by the hour of the expiry instead, it changes only when a write moves the expiry into
  // another hour (see attemptBasketUpdate).
  `
  ALTER TABLE baskets ADD COLUMN expires_hour INTEGER NOT NULL DEFAULT 0;
  UPDATE baskets SET expires_hour = expires / ${HOUR_MS};
  DROP INDEX baskets_purge;
  CREATE INDEX baskets_purge ON baskets (expires_hour) WHERE has_checkout = 0;
  `,
  // When a reservation was released or committed, so that settled ones can be purged after the retention. Those
  // settled before this migration count from the migration.
  `
  ALTER TABLE reservations ADD COLUMN finished INTEGER NULL;
  UPDATE reservations SET finished = CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) WHERE state <> 'reserved';
  CREATE INDEX reservations_finished ON reservations (finished) WHERE finished IS NOT NULL;
  `,
  // Baskets leave WITHOUT ROWID (docs/decisions.md): there a row over ~1,000 bytes of a 4 KiB page (a cart of
  // ~10 lines or more) spills into overflow pages, which made its read ~5x and its update ~1.7x dearer.
  `
  CREATE TABLE baskets_by_rowid (
    partner_id   TEXT    NOT NULL,
    user_id      TEXT    NOT NULL,
    version      INTEGER NOT NULL,
    expires      INTEGER NOT NULL,
    has_checkout INTEGER NOT NULL,
    data         TEXT    NOT NULL,
    expires_hour INTEGER NOT NULL DEFAULT 0,
    UNIQUE (partner_id, user_id)
  );
  INSERT INTO baskets_by_rowid (partner_id, user_id, version, expires, has_checkout, data, expires_hour)
    SELECT partner_id, user_id, version, expires, has_checkout, data, expires_hour FROM baskets ORDER BY partner_id, user_id;
  DROP TABLE baskets;
  ALTER TABLE baskets_by_rowid RENAME TO baskets;
  CREATE INDEX baskets_purge ON baskets (expires_hour) WHERE has_checkout = 0;
  `,
  // A fourth reservation state, `returned` (docs/checkout.md): SQLite cannot change a CHECK constraint in place.
  `
  CREATE TABLE reservations_v5 (
    partner_id     TEXT NOT NULL,
    reservation_id TEXT NOT NULL,
    lines          TEXT NOT NULL,
    state          TEXT NOT NULL CHECK (state IN ('reserved', 'released', 'committed', 'returned')),
    finished       INTEGER NULL,
    PRIMARY KEY (partner_id, reservation_id)
  );
  INSERT INTO reservations_v5 (partner_id, reservation_id, lines, state, finished)
    SELECT partner_id, reservation_id, lines, state, finished FROM reservations;
  DROP TABLE reservations;
  ALTER TABLE reservations_v5 RENAME TO reservations;
  CREATE INDEX reservations_finished ON reservations (finished) WHERE finished IS NOT NULL;
  `,
  // Tracking events (issue 23). AUTOINCREMENT: an id is never reused, even once the purge has emptied the table,
  // so a partner's cursor never skips new events; ids are handed out under the write lock, in commit order.
  `
  CREATE TABLE events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    partner_id  TEXT    NOT NULL,
    time        INTEGER NOT NULL,
    action      TEXT    NOT NULL,
    user_key    TEXT    NOT NULL,
    product_id  TEXT    NULL,
    count       INTEGER NULL,
    order_no    TEXT    NULL,
    amount      INTEGER NULL,
    currency    TEXT    NULL,
    outcome     TEXT    NULL,
    session_id  TEXT    NULL,
    start_time  TEXT    NULL,
    source      TEXT    NULL,
    provider    TEXT    NULL,
    tracking    TEXT    NOT NULL,
    api_version TEXT    NULL
  );
  CREATE INDEX events_by_partner ON events (partner_id, id);
  CREATE INDEX events_by_time ON events (partner_id, time);
  CREATE INDEX events_purge ON events (time);
  `,
  // The shop surface (issue 19, src/store/interface/shop.ts). Records as JSON; the columns are what is indexed.
  // shop_baskets_open serves the abandoned listing: open baskets only, in (created, id) order, with expires in it
  // so that the expiry filter needs no table read.
  `
  CREATE TABLE shop_offers (
    partner_id TEXT NOT NULL,
    offer_id   TEXT NOT NULL,
    version    TEXT NOT NULL,
    data       TEXT NOT NULL,
    PRIMARY KEY (partner_id, offer_id, version)
  );
  CREATE TABLE shop_offer_newest (
    partner_id TEXT NOT NULL,
    offer_id   TEXT NOT NULL,
    version    TEXT NOT NULL,
    PRIMARY KEY (partner_id, offer_id)
  );

  CREATE TABLE shop_baskets (
    partner_id  TEXT    NOT NULL,
    basket_id   TEXT    NOT NULL,
    version     INTEGER NOT NULL,
    status      TEXT    NOT NULL,
    external_id TEXT    NULL,
    created     INTEGER NOT NULL,
    expires     INTEGER NOT NULL,
    data        TEXT    NOT NULL,
    UNIQUE (partner_id, basket_id)
  );
  CREATE INDEX shop_baskets_open ON shop_baskets (partner_id, created, basket_id, expires) WHERE status = 'open';
  CREATE INDEX shop_baskets_expires ON shop_baskets (expires);

  CREATE TABLE shop_external_ids (
    partner_id  TEXT NOT NULL,
    external_id TEXT NOT NULL,
    basket_id   TEXT NOT NULL,
    PRIMARY KEY (partner_id, external_id)
  );

  CREATE TABLE shop_orders (
    partner_id       TEXT    NOT NULL,
    order_id         TEXT    NOT NULL,
    payment_provider TEXT    NULL,
    payment_ref      TEXT    NULL,
    data             TEXT    NOT NULL,
    PRIMARY KEY (partner_id, order_id)
  );
  CREATE INDEX shop_orders_payment_ref ON shop_orders (payment_provider, payment_ref) WHERE payment_ref IS NOT NULL;

  CREATE TABLE shop_subscriptions (
    partner_id      TEXT NOT NULL,
    subscription_id TEXT NOT NULL,
    name            TEXT NOT NULL,
    data            TEXT NOT NULL,
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

/** The purge index's bucket of an expiry: the hour it falls in (SQLite's integer division of a positive value). */
export function expiresHour(expires: number): number {
  return Math.floor(expires / HOUR_MS);
}

function userVersion(db: Db): number {
  const v = db.pragma('user_version', { simple: true });
  if (typeof v !== 'number') throw new Error('PRAGMA user_version returned a non-number');
  return v;
}

/** Applies pending migrations under the write lock, so processes starting together migrate exactly once. */
export function migrate(db: Db): void {
  db.transaction(() => {
    const current = userVersion(db);
    if (current > MIGRATIONS.length) {
      throw new Error(`database schema version ${current} is newer than this build (${MIGRATIONS.length})`);
    }
    for (let v = current; v < MIGRATIONS.length; v++) db.exec(MIGRATIONS[v] ?? '');
    // PRAGMA takes no bound parameters; the value is our own integer.
    if (current < MIGRATIONS.length) db.pragma(`user_version = ${MIGRATIONS.length}`);
  }).immediate();
}

export function configure(db: Db, synchronous: 'normal' | 'full', lockTimeoutMs: number): void {
  // busy_timeout first: switching to WAL needs a lock that another starting process may hold briefly.
  db.pragma(`busy_timeout = ${lockTimeoutMs}`);
  const mode = db.pragma('journal_mode = WAL', { simple: true });
  if (typeof mode !== 'string' || mode.toLowerCase() !== 'wal') {
    throw new Error(`SQLite refused WAL mode (journal_mode is ${String(mode)})`);
  }
  db.pragma(`synchronous = ${synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
  db.pragma('foreign_keys = ON');
  // 32 MiB of page cache (default 2 MiB) keeps the B-tree interior of a million baskets in memory
  db.pragma('cache_size = -32768');
}
