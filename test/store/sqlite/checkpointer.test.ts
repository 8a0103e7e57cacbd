/**
 * The WAL checkpoint thread of the SQLite store, against real files: it copies the WAL while the store's own
 * connection only appends, it hands checkpoints back when it stops or fails, and data written around it survives.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { BACKSTOP_FRAMES, startCheckpointer } from '../../../src/store/sqlite/checkpointer.js';
import { openSqliteStore } from '../../../src/store/sqlite/index.js';
import type { BasketKey } from '../../../src/store/store.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'basket-checkpoint-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const dbFile = (name: string): string => path.join(dir, `${name}-${randomUUID()}.db`);

interface WalFrames {
  log: number;
  checkpointed: number;
}
const walFrames = (db: Database.Database) => db.prepare<[], WalFrames>('PRAGMA wal_checkpoint(NOOP)').get()!;
const autocheckpoint = (db: Database.Database) => db.pragma('wal_autocheckpoint', { simple: true });

/** A WAL database with a table, its autocheckpoint off so that only the thread can copy frames. */
function walDb(file: string): Database.Database {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.exec('CREATE TABLE t (x BLOB)');
  return db;
}
const insertPages = (db: Database.Database, n: number) => {
  const insert = db.prepare('INSERT INTO t VALUES (randomblob(3000))');
  for (let i = 0; i < n; i++) insert.run();
};

describe('SQLite checkpoint thread', () => {
  it('raises the writing connection’s autocheckpoint while it runs and restores the default when stopped', async () => {
    const db = walDb(dbFile('pragma'));
    try {
      assert.equal(autocheckpoint(db), 1000);
      const checkpointer = startCheckpointer(db.name, db);
      assert.equal(autocheckpoint(db), BACKSTOP_FRAMES);
      await checkpointer.close();
      assert.equal(autocheckpoint(db), 1000);
      assert.deepEqual(await checkpointer.checkpoint(), { error: 'checkpoint thread stopped' });
    } finally {
      db.close();
    }
  });

  it('copies every frame of the WAL into the database file on request', async () => {
    const db = walDb(dbFile('on-request'));
    const checkpointer = startCheckpointer(db.name, db);
    try {
      db.pragma('wal_autocheckpoint = 0');
      insertPages(db, 50);
      const before = walFrames(db);
      assert.ok(before.log >= 50 && before.checkpointed === 0, JSON.stringify(before));
      const reply = await checkpointer.checkpoint();
      assert.deepEqual(reply, { log: before.log, checkpointed: before.log });
      assert.deepEqual(walFrames(db), { busy: 0, log: before.log, checkpointed: before.log });
    } finally {
      await checkpointer.close();
      db.close();
    }
  });

  it('checkpoints by itself once the WAL holds 1,000 frames not yet copied', async () => {
    const db = walDb(dbFile('by-itself'));
    const checkpointer = startCheckpointer(db.name, db);
    try {
      db.pragma('wal_autocheckpoint = 0'); // nothing but the thread may copy frames in this test
      insertPages(db, 300);
      await sleep(300); // several ticks: below the threshold, the thread leaves the WAL alone
      assert.equal(walFrames(db).checkpointed, 0);
      insertPages(db, 1200);
      const deadline = Date.now() + 10_000;
      while (walFrames(db).checkpointed === 0 && Date.now() < deadline) await sleep(20);
      assert.ok(walFrames(db).checkpointed > 1000, JSON.stringify(walFrames(db)));
    } finally {
      await checkpointer.close();
      db.close();
    }
  });

  it('a thread that cannot start hands checkpoints back to the writing connection', async () => {
    const db = walDb(dbFile('fails'));
    try {
      // the thread opens with fileMustExist: a path with no database makes it fail at once
      const checkpointer = startCheckpointer(path.join(dir, 'missing', 'no.db'), db);
      const deadline = Date.now() + 10_000;
      while (autocheckpoint(db) !== 1000 && Date.now() < deadline) await sleep(20);
      assert.equal(autocheckpoint(db), 1000);
      assert.deepEqual(await checkpointer.checkpoint(), { error: 'checkpoint thread stopped' });
      await checkpointer.close();
    } finally {
      db.close();
    }
  });

  it('a process that never closes its store still exits by itself', async () => {
    const fixture = fileURLToPath(new URL('./fixtures/unclosed.ts', import.meta.url));
    // execFile's timeout kills a process that hangs: the test then fails on the signal
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', fixture, dbFile('unclosed')], {
      cwd: fileURLToPath(new URL('../../../', import.meta.url)),
      timeout: 30_000,
    });
    assert.equal(stdout.trim(), 'written');
  });

  it('a store keeps every write across its thread’s checkpoints and a reopen', async () => {
    const file = dbFile('store');
    const keys: BasketKey[] = Array.from({ length: 2000 }, (_, i) => ({ partnerId: 'p', userId: `u${i}` }));
    const state = (i: number) => ({
      cart: [{ productId: `product-${i}`, count: 1 + (i % 20) }],
      saved: [],
      checkout: [],
      lastChanged: i,
      expires: 9e12,
      session: null,
    });
    const store = await openSqliteStore(file);
    const reader = new Database(file, { readonly: true });
    try {
      // one basket per turn: one commit each, enough frames for the thread to run several times meanwhile
      for (const [i, key] of keys.entries()) await store.updateBasket(key, () => ({ state: state(i), result: null }));
      const deadline = Date.now() + 10_000;
      while (walFrames(reader).checkpointed === 0 && Date.now() < deadline) await sleep(20);
      assert.ok(walFrames(reader).checkpointed > 0, 'the thread checkpointed the store');
    } finally {
      reader.close();
      await store.close();
    }
    const reopened = await openSqliteStore(file);
    try {
      for (const [i, key] of keys.entries()) {
        const got = await reopened.getBasket(key);
        assert.deepEqual(got?.state, state(i), `basket ${i}`);
      }
    } finally {
      await reopened.close();
    }
  });
});
