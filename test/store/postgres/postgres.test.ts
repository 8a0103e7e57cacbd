/**
 * The Store contract against the local PostgreSQL (a fresh schema per run, dropped afterwards), plus what only
 * PostgreSQL has: concurrent migration, LISTEN/NOTIFY across store instances, and the server going away.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, describe, it } from 'node:test';
import pg from 'pg';
import { MIGRATIONS, openPostgresStore } from '../../../src/store/postgres/index.js';
import { openStore } from '../../../src/store/open.js';
import { StoreUnavailableError, type BasketKey } from '../../../src/store/store.js';
import { storeContract } from '../contract.js';
import { shopStoreContract } from '../shop-contract.js';
import { assertChangeSeenAcrossInstances, assertNoLostUpdateAcrossInstances } from '../helpers/races.js';
import { dropSchema, newSchema, PG_URL, pgUrlWithSchema, startProxy } from '../helpers/services.js';

const schemas: string[] = [];
const schemaUrl = (): string => {
  const schema = newSchema();
  schemas.push(schema);
  return pgUrlWithSchema(schema);
};
after(async () => {
  for (const schema of schemas) await dropSchema(schema);
});

const contractUrl = schemaUrl();
storeContract('postgres', () => openStore(contractUrl));
shopStoreContract('postgres', () => openStore(contractUrl));

const newKey = (): BasketKey => ({ partnerId: `p-${randomUUID()}`, userId: `u-${randomUUID()}` });
const state = (n: number) => ({ cart: [{ productId: 'A', count: n }], saved: [], checkout: [], lastChanged: n, expires: n + 1, session: null });

describe('PostgreSQL store', { timeout: 60_000 }, () => {
  it('lists no event behind a transaction still running: an identity that commits late is not skipped', async () => {
    const url = schemaUrl();
    const store = await openPostgresStore(url, { poolSize: 2 });
    const schema = new URL(url).searchParams.get('schema') ?? '';
    const client = new pg.Client({ connectionString: PG_URL });
    await client.connect();
    try {
      const partnerId = `p-${randomUUID()}`;
      const ev = (time: number) => ({
        partnerId, time, action: 'assign' as const, user: 'u', productId: 'P', count: 1, orderNo: null, amount: null, currency: null,
        outcome: null, sessionId: null, startTime: null, source: null, provider: null, tracking: 'absent' as const, apiVersion: null,
      });
      // an append that draws its identity first and commits last
      await client.query('BEGIN');
      await client.query(
        `INSERT INTO ${pg.escapeIdentifier(schema)}.events (partner_id, time, action, user_key, tracking) VALUES ($1, 1, 'assign', 'slow', 'absent')`,
        [partnerId],
      );
      await store.appendEvents([ev(2)]);
      const early = await store.listEvents(partnerId, null, 10);
      assert.deepEqual(early, { events: [], next: null }, 'the committed event waits behind the running transaction');
      await client.query('COMMIT');
      const page = await store.listEvents(partnerId, null, 10);
      assert.deepEqual(page.events.map((e) => e.user), ['slow', 'u']);
    } finally {
      await client.query('ROLLBACK').catch(() => undefined);
      await client.end();
      await store.close();
    }
  });

  it('five stores migrating a fresh schema at once all succeed, and the schema version is recorded once', async () => {
    const url = schemaUrl();
    const stores = await Promise.all(Array.from({ length: 5 }, () => openPostgresStore(url, { poolSize: 2 })));
    try {
      const key = newKey();
      await stores[0]!.updateBasket(key, () => ({ state: state(1), result: null }));
      assert.equal((await stores[4]!.getBasket(key))?.version, 1);
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
    const client = new pg.Client({ connectionString: PG_URL });
    await client.connect();
    try {
      const schema = new URL(url).searchParams.get('schema') ?? '';
      const { rows } = await client.query<{ version: number }>(`SELECT version FROM ${pg.escapeIdentifier(schema)}.schema_migrations`);
      assert.deepEqual(rows.map((r) => r.version), MIGRATIONS.map((_, i) => i + 1));
    } finally {
      await client.end();
    }
  });

  it('migrating a schema from before the returned state keeps its reservations and lets a committed one be returned', async () => {
    const url = schemaUrl();
    const schema = new URL(url).searchParams.get('schema') ?? '';
    const client = new pg.Client({ connectionString: PG_URL });
    await client.connect();
    try {
      await client.query(`CREATE SCHEMA ${pg.escapeIdentifier(schema)}`);
      await client.query(`SET search_path TO ${pg.escapeIdentifier(schema)}`);
      await client.query('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied BIGINT NOT NULL)');
      // the migrations before the one that added the returned state
      const returnedAt = MIGRATIONS.findIndex((m) => m.includes("'returned'"));
      assert.ok(returnedAt > 0);
      for (let v = 0; v < returnedAt; v++) {
        await client.query(MIGRATIONS[v]!);
        await client.query('INSERT INTO schema_migrations (version, applied) VALUES ($1, 0)', [v + 1]);
      }
      await client.query(`INSERT INTO products (partner_id, product_id, stock, reserved, data) VALUES ('p', 'A', 3, 1, '{}')`);
      const insert = "INSERT INTO reservations (partner_id, reservation_id, lines, state, finished) VALUES ('p', $1, $2, $1, $3)";
      await client.query(insert, ['reserved', JSON.stringify([{ productId: 'A', stocked: 1 }]), null]);
      await client.query(insert, ['committed', JSON.stringify([{ productId: 'A', stocked: 2 }]), 2000]);
      await assert.rejects(client.query(insert, ['returned', '[]', 3000]), /reservations_state_check/, 'the old schema knows no returned state');
    } finally {
      await client.end();
    }
    const store = await openPostgresStore(url);
    try {
      assert.equal(await store.getReservationState('p', 'reserved'), 'reserved');
      assert.equal(await store.returnReservation('p', 'committed'), true);
      assert.equal(await store.getReservationState('p', 'committed'), 'returned');
      const a = (await store.getProducts('p', ['A'])).get('A');
      assert.deepEqual([a?.stock, a?.reserved], [5, 1]);
    } finally {
      await store.close();
    }
  });

  it('three store instances incrementing one basket at once lose no update', async () => {
    const url = schemaUrl();
    const stores = await Promise.all([0, 1, 2].map(() => openPostgresStore(url, { poolSize: 4 })));
    try {
      await assertNoLostUpdateAcrossInstances(stores);
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  });

  it('a change through one store is reported to a listener on another (LISTEN/NOTIFY)', async () => {
    const url = schemaUrl();
    const a = await openPostgresStore(url);
    const b = await openPostgresStore(url);
    try {
      await assertChangeSeenAcrossInstances(a, b);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('the server going away surfaces as StoreUnavailableError, without hanging', async () => {
    const schema = newSchema();
    schemas.push(schema);
    const target = new URL(PG_URL);
    const proxy = await startProxy(target.hostname, Number(target.port || 5432));
    const url = new URL(pgUrlWithSchema(schema));
    url.port = String(proxy.port);
    const store = await openPostgresStore(url.toString(), { connectTimeoutMs: 1000, statementTimeoutMs: 2000 });
    try {
      await store.ping();
      await proxy.cut();
      const started = Date.now();
      await assert.rejects(store.getBasket(newKey()), StoreUnavailableError);
      await assert.rejects(store.updateBasket(newKey(), () => ({ state: state(1), result: null })), StoreUnavailableError);
      await assert.rejects(store.ping(), StoreUnavailableError);
      assert.ok(Date.now() - started < 10_000);
    } finally {
      await store.close();
    }
  });

  it('an unreachable server fails open with StoreUnavailableError', async () => {
    const proxy = await startProxy('127.0.0.1', 1);
    await proxy.cut();
    const url = new URL(PG_URL);
    url.port = String(proxy.port);
    await assert.rejects(openPostgresStore(url.toString(), { connectTimeoutMs: 1000 }), StoreUnavailableError);
  });
});
