/**
 * The abandoned listing is served from the index (issue 19: "from an index, not a scan"): PostgreSQL's plan of both
 * listing statements is a scan of shop_baskets_open in its order, with no sort. The tables are nearly empty, so
 * sequential scans are priced out (`enable_seqscan = off`): what is checked is that the index can serve the
 * statements (its predicate, its order), not the planner's choice for a small table.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import pg from 'pg';
import { openPostgresStore } from '../../../src/store/postgres/index.js';
import { LIST_ABANDONED_AFTER, LIST_ABANDONED_FROM } from '../../../src/store/postgres/shop/baskets.js';
import { dropSchema, newSchema, PG_URL, pgUrlWithSchema } from '../helpers/services.js';

const schema = newSchema();
after(() => dropSchema(schema));

interface PlanNode {
  'Node Type': string;
  'Index Name'?: string;
  Plans?: PlanNode[];
}

const nodes = (n: PlanNode): PlanNode[] => [n, ...(n.Plans ?? []).flatMap(nodes)];

describe('PostgreSQL: the abandoned listing\'s query plan', () => {
  it('both statements scan shop_baskets_open in its order: no sequential scan, no sort', async () => {
    const store = await openPostgresStore(pgUrlWithSchema(schema), { poolSize: 1 });
    await store.close();
    const client = new pg.Client({ connectionString: PG_URL });
    await client.connect();
    try {
      await client.query(`SET search_path TO ${schema}`);
      await client.query('SET enable_seqscan = off');
      for (const [name, sql, params] of [
        ['from createdAfter', LIST_ABANDONED_FROM, ['demo', 0, 0, 51]],
        ['after a cursor', LIST_ABANDONED_AFTER, ['demo', 0, 'basket-1', 0, 51]],
      ] as const) {
        const { rows } = await client.query<{ 'QUERY PLAN': [{ Plan: PlanNode }] }>(`EXPLAIN (FORMAT JSON) ${sql}`, [...params]);
        const all = nodes(rows[0]!['QUERY PLAN'][0].Plan);
        const text = all.map((n) => `${n['Node Type']}${n['Index Name'] ? ` ${n['Index Name']}` : ''}`).join(' > ');
        assert.ok(all.some((n) => /^Index (Only )?Scan$/.test(n['Node Type']) && n['Index Name'] === 'shop_baskets_open'), `${name}: ${text}`);
        assert.ok(!all.some((n) => /Seq Scan|Sort/.test(n['Node Type'])), `${name}: ${text}`);
      }
    } finally {
      await client.end();
    }
  });
});
