/**
 * The Store contract against a real SQLite file, plus what only SQLite has: the file outlives the process, and
 * several processes share it (serialised by BEGIN IMMEDIATE), migrate it together and survive SIGKILL.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { expiresHour, MIGRATIONS, openSqliteStore, type SqliteStoreOptions } from '../../../src/store/sqlite/index.js';
import { RESERVATION_RETENTION_MS, StoreUnavailableError, type BasketKey, type Store } from '../../../src/store/store.js';
import { storeContract } from '../contract.js';
import { shopStoreContract } from '../shop-contract.js';
import { productInput } from '../../helpers/product.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const WRITER = fileURLToPath(new URL('./fixtures/writer.ts', import.meta.url));
const COUNTER = 'COUNTER';

const dir = mkdtempSync(path.join(os.tmpdir(), 'basket-sqlite-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const dbFile = (name: string): string => path.join(dir, `${name}-${randomUUID()}.db`);
const newKey = (): BasketKey => ({ partnerId: `p-${randomUUID()}`, userId: `u-${randomUUID()}` });

/** A store on a fresh file, a second connection writing to the same file, and a basket key; both closed after. */
async function withOtherConnection(
  name: string,
  body: (store: Store, other: Database.Database, key: BasketKey) => Promise<void>,
  options: SqliteStoreOptions = {},
): Promise<void> {
  const file = dbFile(name);
  const store = await openSqliteStore(file, options);
  const other = new Database(file, { timeout: 1000 });
  try {
    await body(store, other, newKey());
  } finally {
    other.close();
    await store.close();
  }
}

storeContract('sqlite', () => openSqliteStore(path.join(dir, 'contract', 'store.db')));
shopStoreContract('sqlite', () => openSqliteStore(path.join(dir, 'shop-contract', 'store.db')));

// --- child processes -------------------------------------------------------------------------------------------

interface Child {
  proc: ChildProcessWithoutNullStreams;
  lines: string[];
  /** Resolves once stdout has closed and the process has exited. */
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr: () => string;
  waitForLine: (predicate: (line: string) => boolean) => Promise<void>;
}

function spawnWriter(args: string[]): Child {
  const proc = spawn(process.execPath, ['--import', 'tsx', WRITER, ...args], { cwd: ROOT, stdio: 'pipe' });
  const lines: string[] = [];
  let err = '';
  proc.stderr.setEncoding('utf8');
  proc.stderr.on('data', (chunk: string) => (err += chunk));
  const waiters = new Set<() => void>();
  const rl = createInterface({ input: proc.stdout });
  rl.on('line', (line) => {
    lines.push(line);
    for (const w of waiters) w();
  });
  const closed = once(rl, 'close');
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.on('exit', (code, signal) => resolve({ code, signal })),
  );
  const done = Promise.all([exited, closed]).then(([exit]) => exit);
  const waitForLine = (predicate: (line: string) => boolean): Promise<void> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        if (lines.some(predicate)) {
          waiters.delete(check);
          resolve();
        }
      };
      waiters.add(check);
      check();
      void exited.then(() => {
        if (waiters.has(check)) reject(new Error(`child exited before the expected line; stderr:\n${err}`));
      });
    });
  return { proc, lines, done, stderr: () => err, waitForLine };
}

async function expectSuccess(child: Child): Promise<void> {
  const { code, signal } = await child.done;
  assert.equal(code, 0, `child failed (signal ${String(signal)}):\n${child.stderr()}`);
}

/** Starts the children, waits until every one is ready, then releases them at once. */
async function startTogether(children: Child[]): Promise<void> {
  await Promise.all(children.map((c) => c.waitForLine((l) => l === 'ready')));
  for (const c of children) c.proc.stdin.write('go\n');
}

// --- SQLite-specific tests -------------------------------------------------------------------------------------

describe('SQLite store', { timeout: 60_000 }, () => {
  it('keeps the data across close and reopen', async () => {
    const file = dbFile('reopen');
    const key = newKey();
    const state = { cart: [{ productId: 'A', count: 2 }], saved: [], checkout: [], lastChanged: 1, expires: 2, session: null };
    const first = await openSqliteStore(file, { synchronous: 'full' });
    await first.updateBasket(key, () => ({ state, result: null }));
    await first.upsertProducts(key.partnerId, [
      {
        productId: 'A',
        variant: null,
        mainProductIdentifier: null,
        name: 'A',
        brand: null,
        price: 100,
        currency: 'EUR',
        taxRateBp: 1900,
        stock: 3,
        shopSource: null,
        slug: null,
        images: [],
      },
    ]);
    await first.reserveStock(key.partnerId, 'r1', [{ productId: 'A', count: 1 }]);
    await first.putComfort(key, { customerId: 'c', paymentMethodId: null, oneClick: true });
    await first.close();

    const second = await openSqliteStore(file);
    try {
      assert.deepEqual(await second.getBasket(key), { state, version: 1 });
      const a = (await second.getProducts(key.partnerId, ['A'])).get('A');
      assert.equal(a?.stock, 3);
      assert.equal(a?.reserved, 1);
      assert.equal(await second.getReservationState(key.partnerId, 'r1'), 'reserved');
      assert.deepEqual(await second.getComfort(key), { customerId: 'c', paymentMethodId: null, oneClick: true });
    } finally {
      await second.close();
    }
  });

  it('creates the parent directory and sets WAL mode and the schema version', async () => {
    const file = path.join(dir, `nested-${randomUUID()}`, 'deeper', 'basket.db');
    const store = await openSqliteStore(file);
    await store.close();
    const db = new Database(file, { readonly: true });
    try {
      assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
      assert.equal(db.pragma('user_version', { simple: true }), MIGRATIONS.length);
    } finally {
      db.close();
    }
  });

  it('migrates idempotently: reopening the same file twice changes nothing', async () => {
    const file = dbFile('twice');
    const key = newKey();
    const a = await openSqliteStore(file);
    await a.updateBasket(key, () => ({ state: { cart: [], saved: [], checkout: [], lastChanged: 0, expires: 1, session: null }, result: null }));
    await a.init();
    const b = await openSqliteStore(file);
    assert.equal((await b.getBasket(key))?.version, 1);
    await a.close();
    await b.close();
  });

  it('migrating a version-1 file indexes its baskets by the hour of their expiry, and purges them by it', async () => {
    const file = dbFile('v1');
    const v1 = new Database(file);
    const HOUR = 3_600_000;
    const rows = [
      { userId: 'expired', expires: 20 * HOUR + 5, checkout: 0 },
      { userId: 'later-same-hour', expires: 20 * HOUR + 50, checkout: 0 },
      { userId: 'next-hour', expires: 21 * HOUR, checkout: 0 },
      { userId: 'in-checkout', expires: 20 * HOUR, checkout: 1 },
    ];
    try {
      v1.pragma('journal_mode = WAL');
      v1.exec(MIGRATIONS[0]!);
      v1.pragma('user_version = 1');
      const insert = v1.prepare('INSERT INTO baskets (partner_id, user_id, version, expires, has_checkout, data) VALUES (?, ?, 3, ?, ?, ?)');
      for (const r of rows) {
        const state = { cart: [], saved: [], checkout: [], lastChanged: 0, expires: r.expires, session: null };
        insert.run('p', r.userId, r.expires, r.checkout, JSON.stringify(state));
      }
    } finally {
      v1.close();
    }
    const store = await openSqliteStore(file);
    try {
      const db = new Database(file, { readonly: true });
      try {
        assert.equal(db.pragma('user_version', { simple: true }), MIGRATIONS.length);
        const hours = db.prepare<[], { user_id: string; expires_hour: number }>('SELECT user_id, expires_hour FROM baskets ORDER BY user_id').all();
        assert.deepEqual(
          hours,
          rows.map((r) => ({ user_id: r.userId, expires_hour: expiresHour(r.expires) })).sort((a, b) => a.user_id.localeCompare(b.user_id)),
        );
        assert.deepEqual(hours.map((h) => h.expires_hour).sort(), [20, 20, 20, 21]);
      } finally {
        db.close();
      }
      assert.equal(await store.purgeExpiredBaskets(20 * HOUR + 10, 100), 1);
      const left = async (userId: string) => (await store.getBasket({ partnerId: 'p', userId }))?.version ?? null;
      assert.deepEqual(await Promise.all(rows.map((r) => left(r.userId))), [null, 3, 3, 3]);
    } finally {
      await store.close();
    }
  });

  it('migrating a version-2 file starts the retention of reservations settled before it, not of held ones', async () => {
    const file = dbFile('v2');
    const v2 = new Database(file);
    try {
      v2.pragma('journal_mode = WAL');
      v2.exec(MIGRATIONS[0]!);
      v2.exec(MIGRATIONS[1]!);
      v2.pragma('user_version = 2');
      const insert = v2.prepare("INSERT INTO reservations (partner_id, reservation_id, lines, state) VALUES ('p', ?, '[]', ?)");
      for (const state of ['reserved', 'released', 'committed']) insert.run(state, state);
    } finally {
      v2.close();
    }
    const before = Date.now();
    const store = await openSqliteStore(file);
    const after = Date.now();
    try {
      const db = new Database(file, { readonly: true });
      try {
        const rows = db.prepare<[], { reservation_id: string; finished: number | null }>('SELECT reservation_id, finished FROM reservations').all();
        const finished = Object.fromEntries(rows.map((r) => [r.reservation_id, r.finished]));
        assert.equal(finished.reserved, null);
        for (const settled of ['released', 'committed']) {
          const at = finished[settled] ?? NaN;
          // julianday's clock, in whole milliseconds: allow a millisecond either side
          assert.ok(at >= before - 1 && at <= after + 1, `${settled}: ${at} within ${before}..${after}`);
        }
      } finally {
        db.close();
      }
      assert.equal(await store.purgeExpired(after + RESERVATION_RETENTION_MS + 1, 100), 2);
      assert.equal(await store.getReservationState('p', 'reserved'), 'reserved');
    } finally {
      await store.close();
    }
  });

  it('migrating a version-3 file keeps every basket, and a full cart is then stored without overflow pages', async () => {
    const file = dbFile('v3');
    const v3 = new Database(file);
    // a cart of 20 lines with variants: ~2 KB of JSON, more than a WITHOUT ROWID leaf keeps on its page
    const fullCart = (n: number) => ({
      cart: Array.from({ length: 20 }, (_, i) => ({ productId: `product-${i}`, count: n, variant: `variant-${i}`, mainProductIdentifier: `main-${i}` })),
      saved: [],
      checkout: [],
      lastChanged: n,
      expires: 9e12,
      session: null,
    });
    const overflowPages = (db: Database.Database) =>
      db.prepare<[], { n: number }>("SELECT count(*) AS n FROM dbstat WHERE name = 'baskets' AND pagetype = 'overflow'").get()!.n;
    try {
      v3.pragma('journal_mode = WAL');
      for (const m of MIGRATIONS.slice(0, 3)) v3.exec(m);
      v3.pragma('user_version = 3');
      const insert = v3.prepare(
        'INSERT INTO baskets (partner_id, user_id, version, expires, expires_hour, has_checkout, data) VALUES (?, ?, ?, ?, ?, ?, ?)',
      );
      for (let u = 0; u < 50; u++) insert.run('p', `u${u}`, u + 1, 9e12, expiresHour(9e12), u % 2, JSON.stringify(fullCart(u)));
      assert.ok(overflowPages(v3) > 0, 'the old layout spills full carts into overflow pages');
    } finally {
      v3.close();
    }
    const store = await openSqliteStore(file);
    try {
      for (let u = 0; u < 50; u++) assert.deepEqual(await store.getBasket({ partnerId: 'p', userId: `u${u}` }), { state: fullCart(u), version: u + 1 });
      const key = { partnerId: 'p', userId: 'u7' };
      assert.equal(await store.updateBasket(key, (cur) => ({ state: fullCart((cur?.version ?? 0) * 10), result: 'written' })), 'written');
      assert.deepEqual(await store.getBasket(key), { state: fullCart(80), version: 9 });
      // a new basket next to the migrated ones, and the purge index (has_checkout 0, expires_hour) still in use:
      // the 25 even users', u7's (its write left checkout) and the new one go, the other 24 are held by checkout
      await store.updateBasket({ partnerId: 'p', userId: 'new' }, () => ({ state: fullCart(1), result: null }));
      assert.equal(await store.purgeExpiredBaskets(9e12 + 1, 100), 27);
      const db = new Database(file, { readonly: true });
      try {
        assert.equal(db.pragma('user_version', { simple: true }), MIGRATIONS.length);
        assert.equal(db.prepare<[], { n: number }>('SELECT count(*) AS n FROM baskets').get()!.n, 24);
        assert.equal(overflowPages(db), 0);
      } finally {
        db.close();
      }
    } finally {
      await store.close();
    }
  });

  it('migrating a version-4 file keeps every reservation and lets a committed one be returned', async () => {
    const file = dbFile('v4');
    const v4 = new Database(file);
    try {
      v4.pragma('journal_mode = WAL');
      for (const m of MIGRATIONS.slice(0, 4)) v4.exec(m);
      v4.pragma('user_version = 4');
      v4.prepare("INSERT INTO products (partner_id, product_id, stock, reserved, data) VALUES ('p', 'A', 3, 1, ?)").run(
        JSON.stringify({ ...productInput('A'), stock: undefined }),
      );
      const insert = v4.prepare("INSERT INTO reservations (partner_id, reservation_id, lines, state, finished) VALUES ('p', ?, ?, ?, ?)");
      const lines = JSON.stringify([{ productId: 'A', stocked: 2 }]);
      insert.run('reserved', JSON.stringify([{ productId: 'A', stocked: 1 }]), 'reserved', null);
      insert.run('released', lines, 'released', 1000);
      insert.run('committed', lines, 'committed', 2000);
      assert.throws(() => insert.run('x', lines, 'returned', 3000), /CHECK constraint/, 'version 4 knows no returned state');
    } finally {
      v4.close();
    }
    const store = await openSqliteStore(file);
    try {
      assert.equal(await store.getReservationState('p', 'reserved'), 'reserved');
      assert.equal(await store.getReservationState('p', 'released'), 'released');
      assert.equal(await store.returnReservation('p', 'committed'), true);
      assert.equal(await store.getReservationState('p', 'committed'), 'returned');
      const a = (await store.getProducts('p', ['A'])).get('A');
      assert.deepEqual([a?.stock, a?.reserved], [5, 1]);
      const db = new Database(file, { readonly: true });
      try {
        assert.equal(db.pragma('user_version', { simple: true }), MIGRATIONS.length);
        const finished = db.prepare<[], { reservation_id: string; finished: number | null }>('SELECT reservation_id, finished FROM reservations').all();
        assert.deepEqual(Object.fromEntries(finished.filter((r) => r.reservation_id !== 'committed').map((r) => [r.reservation_id, r.finished])), {
          reserved: null,
          released: 1000,
        });
        const indexes = db.prepare<[], { name: string }>("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'reservations' AND sql IS NOT NULL").all();
        assert.deepEqual(indexes.map((i) => i.name), ['reservations_finished']);
      } finally {
        db.close();
      }
    } finally {
      await store.close();
    }
  });

  it('eight processes opening (and migrating) a fresh file at once all succeed', async () => {
    const file = dbFile('migrate');
    const children = Array.from({ length: 8 }, () => spawnWriter(['migrate', file]));
    await startTogether(children);
    await Promise.all(children.map(expectSuccess));
    for (const c of children) assert.ok(c.lines.includes('ok'));
    const db = new Database(file, { readonly: true });
    try {
      assert.equal(db.pragma('user_version', { simple: true }), MIGRATIONS.length);
    } finally {
      db.close();
    }
  });

  it('four processes updating one basket at once: 20 cart lines, no lost increment', async () => {
    const file = dbFile('race');
    const key = newKey();
    // The file exists and is migrated before the children start, so the race is over writes only.
    await (await openSqliteStore(file)).close();
    const children = ['0', '1', '2', '3'].map((w) => spawnWriter(['race', file, w, key.partnerId, key.userId]));
    await startTogether(children);
    await Promise.all(children.map(expectSuccess));

    const added = children.flatMap((c) => {
      const summary = c.lines.find((l) => l.startsWith('{'));
      assert.ok(summary, `no summary from child:\n${c.stderr()}`);
      const parsed: unknown = JSON.parse(summary);
      assert.ok(typeof parsed === 'object' && parsed !== null && 'added' in parsed && Array.isArray(parsed.added));
      return parsed.added.map(String);
    });

    const store = await openSqliteStore(file);
    try {
      const stored = await store.getBasket(key);
      assert.ok(stored);
      assert.equal(stored.state.cart.length, 20);
      assert.deepEqual(new Set(stored.state.cart.map((l) => l.productId)), new Set(added));
      assert.equal(added.length, 20, 'exactly 20 appends reported success');
      assert.equal(stored.state.saved.find((l) => l.productId === COUNTER)?.count, 200);
      // 20 appends + 200 increments, each one version step
      assert.equal(stored.version, 220);
    } finally {
      await store.close();
    }
  });

  it('a SIGKILLed writer loses no acknowledged write', async () => {
    const file = dbFile('kill');
    const key = newKey();
    const child = spawnWriter(['kill', file, key.partnerId, key.userId]);
    await child.waitForLine((l) => l === 'ack 300');
    // The reader falls behind, as on a loaded machine: the pipe fills while the writer goes on.
    child.proc.stdout.pause();
    await sleep(500);
    child.proc.kill('SIGKILL');
    child.proc.stdout.resume();
    const { signal } = await child.done;
    assert.equal(signal, 'SIGKILL');

    const acked = child.lines.filter((l) => l.startsWith('ack ')).map((l) => Number(l.slice(4)));
    const lastAck = Math.max(...acked);
    assert.deepEqual(acked, Array.from({ length: lastAck }, (_, i) => i + 1), 'acks are consecutive');

    const store = await openSqliteStore(file);
    try {
      const count = (await store.getBasket(key))?.state.saved.find((l) => l.productId === COUNTER)?.count ?? 0;
      assert.ok(count >= lastAck, `stored ${count} < acknowledged ${lastAck}`);
      // at most the one write that committed but was not yet acknowledged when the signal came
      assert.ok(count <= lastAck + 1, `stored ${count} > acknowledged ${lastAck} + 1`);
    } finally {
      await store.close();
    }
  });

  /**
   * Lets the event loop turn while `other` holds the write lock. SQLite's busy handler would sleep in this thread
   * for the whole lock timeout (5 s): the lock holder, in this thread too, could not let go, and this timer would
   * fire only then.
   */
  async function turnWhileLocked(): Promise<void> {
    const start = performance.now();
    await new Promise((resolve) => setTimeout(resolve, 30));
    assert.ok(performance.now() - start < 2500, 'the event loop went on while the writes waited');
  }

  it('a write lock held past the lock timeout surfaces as StoreUnavailableError', () =>
    withOtherConnection(
      'busy',
      async (store, other, key) => {
        other.exec('BEGIN IMMEDIATE');
        await assert.rejects(
          store.updateBasket(key, () => ({
            state: { cart: [], saved: [], checkout: [], lastChanged: 0, expires: 1, session: null },
            result: null,
          })),
          StoreUnavailableError,
        );
        other.exec('ROLLBACK');
        await store.ping();
        assert.equal(await store.getBasket(key), null);
      },
      { lockTimeoutMs: 200 },
    ));

  it('a basket update that finds the write lock taken lets the process go on, and commits once the lock is free', () =>
    withOtherConnection('busy-wait', async (store, other, key) => {
      const state = (n: number) => ({ cart: [{ productId: 'A', count: n }], saved: [], checkout: [], lastChanged: n, expires: 9e12, session: null });
      const elsewhere = newKey();
      await store.updateBasket(elsewhere, () => ({ state: state(1), result: null }));
      other.exec('BEGIN IMMEDIATE');
      let settled = false;
      const first = store.updateBasket(key, (cur) => ({ state: state((cur?.state.cart[0]?.count ?? 0) + 1), result: 'first' }));
      void first.finally(() => (settled = true)).catch(() => {});
      await turnWhileLocked();
      assert.equal(settled, false, 'the update waits for the lock');
      assert.deepEqual((await store.getBasket(elsewhere))?.state, state(1), 'reads are answered meanwhile');
      // an update made while the first waits joins it, in order
      const second = store.updateBasket(key, (cur) => ({ state: state((cur?.state.cart[0]?.count ?? 0) + 1), result: 'second' }));
      other.exec('COMMIT');
      assert.deepEqual(await Promise.all([first, second]), ['first', 'second']);
      assert.deepEqual(await store.getBasket(key), { state: state(2), version: 2 });
    }));

  it('other writes that find the write lock taken let the process go on, and complete once the lock is free', () =>
    withOtherConnection('busy-writes', async (store, other, { partnerId }) => {
      await store.upsertProducts(partnerId, [productInput('A', { stock: 5 })]);
      other.exec('BEGIN IMMEDIATE');
      let settled = 0;
      const writes = [
        store.reserveStock(partnerId, 'r1', [{ productId: 'A', count: 2 }]),
        store.putTransfer('hash-1', { partnerId, userId: 'u1', url: 'https://shop.example/t', expires: 9e12 }),
        store.putComfort({ partnerId, userId: 'u1' }, { customerId: 'c1', paymentMethodId: null, oneClick: false }),
      ].map((p) => p.finally(() => settled++));
      await turnWhileLocked();
      assert.equal(settled, 0, 'the writes wait for the lock');
      assert.equal((await store.getProducts(partnerId, ['A'])).get('A')?.reserved, 0, 'reads are answered meanwhile');
      other.exec('COMMIT');
      const [reserved] = await Promise.all(writes);
      assert.deepEqual(reserved, [{ productId: 'A', stocked: 2 }]);
      assert.equal((await store.getProducts(partnerId, ['A'])).get('A')?.reserved, 2);
      assert.equal((await store.getTransfer('hash-1', 0))?.userId, 'u1');
      assert.equal((await store.getComfort({ partnerId, userId: 'u1' }))?.customerId, 'c1');
    }));

  it('another write held past the lock timeout fails with StoreUnavailableError and leaves nothing behind', () =>
    withOtherConnection(
      'busy-write-timeout',
      async (store, other, { partnerId }) => {
        await store.upsertProducts(partnerId, [productInput('A', { stock: 5 })]);
        other.exec('BEGIN IMMEDIATE');
        await assert.rejects(store.reserveStock(partnerId, 'r1', [{ productId: 'A', count: 2 }]), StoreUnavailableError);
        other.exec('ROLLBACK');
        assert.equal((await store.getProducts(partnerId, ['A'])).get('A')?.reserved, 0);
        assert.equal(await store.getReservationState(partnerId, 'r1'), null);
      },
      { lockTimeoutMs: 200 },
    ));

  it('close() commits an update that was waiting for the write lock', async () => {
    const file = dbFile('busy-close');
    const store = await openSqliteStore(file);
    const blocker = new Database(file);
    const key = newKey();
    const state = { cart: [{ productId: 'A', count: 1 }], saved: [], checkout: [], lastChanged: 1, expires: 9e12, session: null };
    try {
      blocker.exec('BEGIN IMMEDIATE');
      const write = store.updateBasket(key, () => ({ state, result: 'done' }));
      await new Promise((resolve) => setTimeout(resolve, 10));
      blocker.exec('COMMIT');
      await store.close();
      assert.equal(await write, 'done');
    } finally {
      blocker.close();
    }
    const again = await openSqliteStore(file);
    try {
      assert.deepEqual((await again.getBasket(key))?.state, state);
    } finally {
      await again.close();
    }
  });

  describe('group commit', () => {
    const cartOf = (n: number) => ({ cart: [{ productId: 'A', count: n }], saved: [], checkout: [], lastChanged: n, expires: 9e12, session: null });
    const counter = (state: { cart: { count: number }[] } | undefined) => state?.cart[0]?.count ?? 0;

    it('updates issued in one turn are answered only once another connection can read them', async () => {
      const file = dbFile('group-visible');
      const store = await openSqliteStore(file);
      const reader = new Database(file, { readonly: true });
      const read = reader.prepare<[string, string], { data: string }>('SELECT data FROM baskets WHERE partner_id = ? AND user_id = ?');
      try {
        const keys = Array.from({ length: 50 }, newKey);
        const seen = await Promise.all(
          keys.map((key, i) => store.updateBasket(key, () => ({ state: cartOf(i + 1), result: i + 1 })).then((n) => {
            const row = read.get(key.partnerId, key.userId);
            return { n, stored: row ? counter(JSON.parse(row.data)) : null };
          })),
        );
        assert.deepEqual(seen, keys.map((_, i) => ({ n: i + 1, stored: i + 1 })));
      } finally {
        reader.close();
        await store.close();
      }
    });

    it('updates of one basket in one turn apply in order, each on the state the previous one wrote', async () => {
      const store = await openSqliteStore(dbFile('group-order'));
      const key = newKey();
      try {
        const results = await Promise.all(
          Array.from({ length: 300 }, () => store.updateBasket(key, (cur) => {
            const next = counter(cur?.state) + 1;
            return { state: cartOf(next), result: next };
          })),
        );
        assert.deepEqual(results, Array.from({ length: 300 }, (_, i) => i + 1));
        const stored = await store.getBasket(key);
        assert.equal(counter(stored?.state), 300);
        assert.equal(stored?.version, 300);
      } finally {
        await store.close();
      }
    });

    it('a failing update fails alone: its neighbours in the same transaction are committed', async () => {
      const store = await openSqliteStore(dbFile('group-isolation'));
      const [a, b, c] = [newKey(), newKey(), newKey()];
      const domainError = new Error('rule refused');
      try {
        const outcomes = await Promise.allSettled([
          store.updateBasket(a, () => ({ state: cartOf(1), result: 'a' })),
          store.updateBasket(b, () => {
            throw domainError;
          }),
          // a state that cannot be serialised fails after the rule ran, inside the transaction
          store.updateBasket(c, () => ({ state: { ...cartOf(2), lastChanged: 10n as unknown as number }, result: 'c' })),
          store.updateBasket(c, () => ({ state: cartOf(3), result: 'c2' })),
        ]);
        assert.deepEqual(outcomes[0], { status: 'fulfilled', value: 'a' });
        assert.equal(outcomes[1]!.status, 'rejected');
        assert.equal((outcomes[1] as PromiseRejectedResult).reason, domainError);
        assert.equal(outcomes[2]!.status, 'rejected');
        assert.ok((outcomes[2] as PromiseRejectedResult).reason instanceof TypeError);
        assert.deepEqual(outcomes[3], { status: 'fulfilled', value: 'c2' });
        assert.equal(counter((await store.getBasket(a))?.state), 1);
        assert.equal(await store.getBasket(b), null);
        assert.deepEqual(await store.getBasket(c), { state: cartOf(3), version: 1 });
      } finally {
        await store.close();
      }
    });

    it("transfer tokens join the turn's group commit, and are answered once another connection can read them", async () => {
      const file = dbFile('group-statements');
      const store = await openSqliteStore(file);
      const reader = new Database(file, { readonly: true });
      const stored = (hash: string) => reader.prepare<[string], { user_id: string }>('SELECT user_id FROM transfers WHERE token_hash = ?').get(hash)?.user_id ?? null;
      const transfer = (n: number) => ({ partnerId: 'p', userId: `u${n}`, url: `https://shop.example/t${n}`, expires: 9e12 });
      try {
        const key = newKey();
        const writes = [store.updateBasket(key, () => ({ state: cartOf(1), result: null })), store.putTransfer('hash-1', transfer(1)), store.putTransfer('hash-2', transfer(2))];
        // not written in the call, as a transaction of its own would be: the group commits when the turn ends
        assert.deepEqual([stored('hash-1'), stored('hash-2')], [null, null]);
        const answered = await Promise.all(writes.slice(1).map((w) => w.then(() => [stored('hash-1'), stored('hash-2')])));
        await Promise.all(writes);
        assert.deepEqual(answered, [['u1', 'u2'], ['u1', 'u2']], 'each answered after the commit of both');

        // taken once, in a group too; the second take of the same token finds nothing
        const takes = [store.takeTransfer('hash-1', 0), store.takeTransfer('hash-1', 0), store.takeTransfer('hash-2', 0)];
        assert.deepEqual([stored('hash-1'), stored('hash-2')], ['u1', 'u2']);
        assert.deepEqual((await Promise.all(takes)).map((t) => t?.userId ?? null), ['u1', null, 'u2']);
        assert.deepEqual([stored('hash-1'), stored('hash-2')], [null, null]);

        // a failing statement fails alone (a NULL url breaks NOT NULL): its neighbours in the group commit
        const outcomes = await Promise.allSettled([
          store.putTransfer('hash-4', { ...transfer(4), url: null as unknown as string }),
          store.putTransfer('hash-5', transfer(5)),
          store.updateBasket(key, () => ({ state: cartOf(9), result: null })),
        ]);
        assert.deepEqual(outcomes.map((o) => o.status), ['rejected', 'fulfilled', 'fulfilled']);
        assert.deepEqual([stored('hash-4'), stored('hash-5')], [null, 'u5']);
        assert.equal(counter((await store.getBasket(key))?.state), 9);
      } finally {
        reader.close();
        await store.close();
      }
    });

    it('a multi-statement write in a group is all or nothing, and fails alone', async () => {
      const store = await openSqliteStore(dbFile('group-savepoint'));
      const key = newKey();
      try {
        // the second product cannot be serialised: the body throws after the first one was written
        const broken = { ...productInput('B', { stock: 1 }), name: 10n as unknown as string };
        const outcomes = await Promise.allSettled([
          store.updateBasket(key, () => ({ state: cartOf(1), result: 'a' })),
          store.upsertProducts(key.partnerId, [productInput('A', { stock: 5 }), broken]),
          store.upsertProducts(key.partnerId, [productInput('C', { stock: 7 })]),
        ]);
        assert.deepEqual(outcomes.map((o) => o.status), ['fulfilled', 'rejected', 'fulfilled']);
        assert.ok((outcomes[1] as PromiseRejectedResult).reason instanceof TypeError);
        const products = await store.getProducts(key.partnerId, ['A', 'B', 'C']);
        assert.deepEqual([...products.keys()], ['C'], 'nothing of the failed body is left');
        assert.equal(counter((await store.getBasket(key))?.state), 1);
      } finally {
        await store.close();
      }
    });

    it('close() commits the updates already accepted', async () => {
      const file = dbFile('group-close');
      const store = await openSqliteStore(file);
      const keys = Array.from({ length: 10 }, newKey);
      const writes = keys.map((key, i) => store.updateBasket(key, () => ({ state: cartOf(i + 1), result: null })));
      await store.close();
      await Promise.all(writes);
      const again = await openSqliteStore(file);
      try {
        for (const [i, key] of keys.entries()) assert.equal(counter((await again.getBasket(key))?.state), i + 1);
      } finally {
        await again.close();
      }
    });
  });

  describe('basket cache', () => {
    const state = (n: number) => ({ cart: [{ productId: 'A', count: n }], saved: [], checkout: [], lastChanged: n, expires: 9e12, session: null });
    const turn = () => new Promise((resolve) => setImmediate(resolve));

    it('a basket read is shared and frozen: a reader that tries to change it fails, and the next read is unchanged', async () => {
      const store = await openSqliteStore(dbFile('frozen'));
      const key = newKey();
      try {
        await store.updateBasket(key, () => ({ state: state(1), result: null }));
        const first = (await store.getBasket(key))!;
        assert.throws(() => first.state.cart.push({ productId: 'B', count: 1 }), TypeError);
        assert.throws(() => ((first.state.cart[0] as { count: number }).count = 5), TypeError);
        assert.throws(() => ((first as { version: number }).version = 9), TypeError);
        await turn();
        assert.deepEqual(await store.getBasket(key), { state: state(1), version: 1 });
      } finally {
        await store.close();
      }
    });

    it('this process’s writes and purges drop the baskets they change', async () => {
      const store = await openSqliteStore(dbFile('own-writes'));
      const key = newKey();
      try {
        await store.updateBasket(key, () => ({ state: state(1), result: null }));
        assert.equal((await store.getBasket(key))?.version, 1);
        await store.updateBasket(key, () => ({ state: state(2), result: null }));
        assert.deepEqual(await store.getBasket(key), { state: state(2), version: 2 });
        await store.updateBasket(key, () => ({ state: { ...state(3), expires: 1000 }, result: null }));
        assert.equal((await store.getBasket(key))?.version, 3);
        assert.equal(await store.purgeExpiredBaskets(1000, 10), 1);
        assert.equal(await store.getBasket(key), null);
      } finally {
        await store.close();
      }
    });

    it('an update works on the stored state even when another connection recreated the basket at the same version', () =>
      withOtherConnection('recreated', async (store, other, key) => {
        await store.updateBasket(key, () => ({ state: state(1), result: null }));
        assert.deepEqual(await store.getBasket(key), { state: state(1), version: 1 }); // cached at version 1
        await turn();
        // purged and written anew elsewhere: version 1 again, another state
        other.prepare('DELETE FROM baskets WHERE partner_id = ? AND user_id = ?').run(key.partnerId, key.userId);
        other
          .prepare('INSERT INTO baskets (partner_id, user_id, version, expires, expires_hour, has_checkout, data) VALUES (?, ?, 1, ?, ?, 0, ?)')
          .run(key.partnerId, key.userId, 9e12, expiresHour(9e12), JSON.stringify(state(7)));
        const seen = await store.updateBasket(key, (current) => ({ state: state(8), result: current }));
        assert.deepEqual(seen, { state: state(7), version: 1 });
        assert.deepEqual(await store.getBasket(key), { state: state(8), version: 2 });
      }));

    it('another connection’s commit empties it: a basket read in an earlier turn is read again', () =>
      withOtherConnection('other-writes', async (store, other, key) => {
        await store.updateBasket(key, () => ({ state: state(1), result: null }));
        assert.equal((await store.getBasket(key))?.version, 1);
        await turn();
        other.prepare('UPDATE baskets SET version = 5, data = ? WHERE partner_id = ? AND user_id = ?').run(JSON.stringify(state(5)), key.partnerId, key.userId);
        assert.deepEqual(await store.getBasket(key), { state: state(5), version: 5 });
      }));
  });

  describe('shared read transaction of a turn', () => {
    const state = (n: number) => ({ cart: [{ productId: 'A', count: n }], saved: [], checkout: [], lastChanged: n, expires: 9e12, session: null });
    const turn = () => new Promise((resolve) => setImmediate(resolve));

    it('another connection writes while a turn reads, and the next turn sees its commit', () =>
      withOtherConnection('read-turn', async (store, other, key) => {
        await store.updateBasket(key, () => ({ state: state(1), result: null }));
        assert.equal((await store.getBasket(key))?.version, 1); // opens this turn's read transaction
        // WAL: a reader never blocks a writer of another connection
        other.prepare('UPDATE baskets SET version = 2, data = ? WHERE partner_id = ? AND user_id = ?').run(JSON.stringify(state(2)), key.partnerId, key.userId);
        await turn();
        assert.deepEqual(await store.getBasket(key), { state: state(2), version: 2 });
      }));

    it('an update is acknowledged only once committed, even with a read transaction open in its turn', async () => {
      const file = dbFile('read-ack');
      const store = await openSqliteStore(file);
      const other = new Database(file, { readonly: true });
      const key = newKey();
      try {
        const update = store.updateBasket(key, () => ({ state: state(7), result: null })).then(() =>
          other.prepare('SELECT version FROM baskets WHERE partner_id = ? AND user_id = ?').get(key.partnerId, key.userId),
        );
        await store.getBasket(newKey()); // a read in the same turn: its transaction is open when the update runs
        assert.deepEqual(await update, { version: 1 });
      } finally {
        other.close();
        await store.close();
      }
    });

    it('writes and transactions issued in the same turn as reads end the read transaction first', async () => {
      const pick = (p: { stock: number | null; reserved: number } | undefined) => (p ? { stock: p.stock, reserved: p.reserved } : null);
      const store = await openSqliteStore(dbFile('read-then-write'));
      const key = newKey();
      try {
        const product = productInput('A', { stock: 5 });
        // no await between the calls: they all start in one turn
        const results = await Promise.all([
          store.getBasket(key),
          store.getProducts(key.partnerId, ['A']),
          store.upsertProducts(key.partnerId, [product]),
          store.getProducts(key.partnerId, ['A']),
          store.reserveStock(key.partnerId, 'r1', [{ productId: 'A', count: 2 }]),
          store.hasCatalogue(key.partnerId),
          store.updateBasket(key, () => ({ state: state(3), result: 'written' })),
          store.getBasket(key),
        ]);
        assert.equal(results[0], null);
        assert.equal(results[1].size, 0);
        assert.deepEqual(results[4], [{ productId: 'A', stocked: 2 }]);
        assert.equal(results[6], 'written');
        // the writes are committed together at the end of the turn, after the reads of the turn ran
        assert.equal(results[3].size, 0);
        assert.equal(results[5], false);
        assert.equal(results[7], null);
        assert.deepEqual(await store.getBasket(key), { state: state(3), version: 1 });
        assert.deepEqual(pick((await store.getProducts(key.partnerId, ['A'])).get('A')), { stock: 5, reserved: 2 });
        assert.equal(await store.hasCatalogue(key.partnerId), true);
      } finally {
        await store.close();
      }
    });
  });

  it('a closed store rejects with StoreUnavailableError', async () => {
    const store = await openSqliteStore(dbFile('closed'));
    await store.close();
    await assert.rejects(store.getBasket(newKey()), StoreUnavailableError);
    await assert.rejects(store.ping(), StoreUnavailableError);
  });
});

before(() => {
  // Fail fast with a clear message if the native module cannot load in this Node version.
  new Database(':memory:').close();
});
