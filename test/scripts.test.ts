/** The command-line scripts: `npm run token` and `npm run catalog:import`, run as real processes. */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DEV_PARTNER } from '../src/config.js';
import { loadServiceKeys } from '../src/auth/service-keys.js';
import { createTokenVerifier } from '../src/auth/tokens.js';
import { openSqliteStore } from '../src/store/sqlite/index.js';

const dir = mkdtempSync(path.join(tmpdir(), 'basket-scripts-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function run(script: string, args: string[], env: Record<string, string> = {}) {
  return spawnSync(process.execPath, ['--import', 'tsx', script, ...args], {
    env: { ...process.env, DATA_DIR: dir, ...env },
    encoding: 'utf8',
    timeout: 30_000,
  });
}

describe('npm run token', () => {
  it('prints a token the service accepts for that user of the development partner', async () => {
    const res = run('scripts/token.ts', ['--user', 'cli-user', '--ttl', '10m']);
    assert.equal(res.status, 0, res.stderr);
    const token = res.stdout.trim();
    assert.match(token, /^[\w-]+\.[\w-]+\.[\w-]+$/);
    const verifier = createTokenVerifier({ serviceKeys: await loadServiceKeys({ config: null, dataDir: dir, issuer: 'basket' }), cacheSize: 0 });
    const principal = await verifier.verify(DEV_PARTNER, token);
    assert.equal(principal.userId, 'cli-user');
    assert.equal(principal.guest, false);
    assert.ok(principal.expires > Date.now() + 9 * 60_000 && principal.expires <= Date.now() + 10 * 60_000);
  });

  it('fails with one line without a user, with a bad duration or a bad setting', () => {
    for (const [args, env, re] of [
      [[], {}, /^token: give the user id/],
      [['--user', 'u', '--ttl', 'soon'], {}, /^token: --ttl soon is not a duration/],
      [['--user', 'u'], { PORT: 'x' }, /^token: PORT="x" is invalid/],
      [['--user', 'u', '--partner', 'nobody'], {}, /^token: no partner nobody/],
    ] as const) {
      const res = run('scripts/token.ts', [...args], env);
      assert.equal(res.status, 1, args.join(' '));
      assert.match(res.stderr.trim(), re);
    }
  });
});

describe('npm run catalog:import', () => {
  const db = path.join(dir, 'import.db');
  const env = { STORE_URL: `sqlite:${db}` };

  it('imports a JSON-lines file into the store', async () => {
    const file = path.join(dir, 'good.jsonl');
    writeFileSync(
      file,
      [
        JSON.stringify({ productId: 'cli-1', name: 'Scarf', price: 19.9, currency: 'EUR', taxRate: 19, stock: 4 }),
        '',
        JSON.stringify({ productId: 'cli-2', name: 'Hat', currency: 'EUR' }),
      ].join('\n'),
    );
    const res = run('scripts/catalog-import.ts', [file, '--partner', 'demo'], env);
    assert.equal(res.status, 0, res.stderr);
    assert.match(res.stdout, /imported 2 product\(s\) into the catalogue of demo/);
    const store = await openSqliteStore(db);
    try {
      const products = await store.getProducts('demo', ['cli-1', 'cli-2']);
      assert.equal(products.get('cli-1')?.price, 1990);
      assert.equal(products.get('cli-1')?.stock, 4);
      assert.equal(products.get('cli-2')?.stock, null);
    } finally {
      await store.close();
    }
  });

  it('imports nothing when one line is bad, and says which', async () => {
    const file = path.join(dir, 'bad.jsonl');
    writeFileSync(file, [JSON.stringify({ productId: 'cli-3', name: 'Ok', currency: 'EUR' }), JSON.stringify({ productId: 'cli-4', name: 'Bad', currency: 'EUR', price: 1.234 })].join('\n'));
    const res = run('scripts/catalog-import.ts', [file, '--partner', 'demo'], env);
    assert.equal(res.status, 1);
    assert.match(res.stderr, /bad\.jsonl:2: \/price/);
    assert.match(res.stderr, /nothing imported/);
    const store = await openSqliteStore(db);
    try {
      assert.equal((await store.getProducts('demo', ['cli-3'])).size, 0);
    } finally {
      await store.close();
    }
    const missing = run('scripts/catalog-import.ts', [path.join(dir, 'nope.jsonl'), '--partner', 'demo'], env);
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /cannot read .*nope\.jsonl: ENOENT/);
  });
});
