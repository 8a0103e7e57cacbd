/**
 * The abandoned listing is served from the index (issue 19: "from an index, not a scan"): SQLite's plan of both
 * listing statements searches shop_baskets_open and needs no sort. The statements are the adapter's own, planned on
 * a file its migrations made.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { openSqliteStore } from '../../../src/store/sqlite/index.js';
import { LIST_ABANDONED_AFTER, LIST_ABANDONED_FROM } from '../../../src/store/sqlite/shop/baskets.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'basket-sqlite-plan-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** The `detail` lines of EXPLAIN QUERY PLAN for `sql` with `params`. */
function plan(file: string, sql: string, params: unknown[]): string[] {
  const db = new Database(file, { readonly: true });
  try {
    return (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as { detail: string }[]).map((r) => r.detail);
  } finally {
    db.close();
  }
}

describe('SQLite: the abandoned listing\'s query plan', () => {
  it('both statements search shop_baskets_open in its order: no table scan, no sort', async () => {
    const file = path.join(dir, 'plan.db');
    const store = await openSqliteStore(file);
    await store.close();
    for (const [name, sql, params] of [
      ['from createdAfter', LIST_ABANDONED_FROM, ['demo', 0, 0, 51]],
      ['after a cursor', LIST_ABANDONED_AFTER, ['demo', 0, 'basket-1', 0, 51]],
    ] as const) {
      const lines = plan(file, sql, [...params]);
      assert.ok(lines.some((l) => /^SEARCH shop_baskets USING INDEX shop_baskets_open \(partner_id=\? AND /.test(l)), `${name}: ${lines.join(' | ')}`);
      assert.ok(!lines.some((l) => /\bSCAN\b|TEMP B-TREE/.test(l)), `${name}: ${lines.join(' | ')}`);
    }
  });
});
