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

describe('scripts/service-key.mjs', () => {
  const newKey = (...args: string[]) => {
    const res = spawnSync(process.execPath, ['scripts/service-key.mjs', ...args], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(res.status, 0, res.stderr);
    return JSON.parse(res.stdout) as { kid: string; alg: string; d?: string };
  };
  const keySet = (signingKid: string, keys: unknown[]) => loadServiceKeys({ config: JSON.stringify({ signingKid, keys }), dataDir: dir, issuer: 'basket' });

  it('prints private keys SERVICE_KEYS accepts, and the documented rotation keeps issued tokens valid', async () => {
    const k1 = newKey();
    assert.match(k1.kid, /^basket-\d{4}-\d{2}-\d{2}$/);
    assert.equal(k1.alg, 'ES256');
    assert.equal(typeof k1.d, 'string', 'a private key');
    const k2 = newKey('--kid', 'k2', '--eddsa');
    assert.deepEqual([k2.kid, k2.alg], ['k2', 'EdDSA']);

    const now = Date.now();
    const old = await (await keySet(k1.kid, [k1])).sign({ sub: 'g1' }, now + 3_600_000);
    // step 1: the new key is added and published, the old one still signs; step 2: the new one signs
    const added = await keySet(k1.kid, [k1, k2]);
    assert.deepEqual(added.jwks().keys.map((k) => k.kid), [k1.kid, 'k2']);
    const switched = await keySet('k2', [k1, k2]);
    const fresh = await switched.sign({ sub: 'g2' }, now + 3_600_000);
    assert.equal((await switched.verify(old, now)).sub, 'g1');
    assert.equal((await added.verify(fresh, now)).sub, 'g2', 'a process still on step 1 accepts tokens of step 2');
    // step 3, after the guest tokens' lifetime: the old key goes, and with it its tokens
    const last = await keySet('k2', [k2]);
    await assert.rejects(last.verify(old, now));
    assert.equal((await last.verify(fresh, now)).sub, 'g2');
  });

  it('refuses arguments it does not know', () => {
    for (const args of [['--kid'], ['--rsa']]) {
      const res = spawnSync(process.execPath, ['scripts/service-key.mjs', ...args], { encoding: 'utf8', timeout: 30_000 });
      assert.equal(res.status, 1, args.join(' '));
      assert.match(res.stderr, /^service-key: /);
    }
  });
});

describe('npm run offers:import and subscriptions:import', () => {
  const db = path.join(dir, 'shop-import.db');
  const env = { STORE_URL: `sqlite:${db}` };
  const plan = { id: 'cli-plan', version: 'v1', name: 'Plan', path: '/plan', type: 'offer', price: 9.99, currency: 'EUR', taxRate: 19, term: { length: 1, unit: 'month' }, crossSells: ['cli-extra'] };
  const extra = { id: 'cli-extra', version: 'v1', name: 'Extra', path: '/extra', type: 'add_on', price: 1.5, currency: 'EUR', term: { length: 1, unit: 'month' }, upgrades: ['cli-ghost'] };
  const sub = {
    id: 'cli-sub',
    name: 'CLI-SUB',
    customer: { email: 'a@example.com', firstName: 'A', lastName: 'B' },
    offer: { id: 'cli-plan', version: 'v1' },
    addOns: [{ id: 'cli-extra', version: 'v1' }],
    termStart: '2026-01-01T00:00:00Z',
    termEnd: '2026-02-01T00:00:00Z',
  };
  const write = (name: string, lines: unknown[]) => {
    const file = path.join(dir, name);
    writeFileSync(file, lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n'));
    return file;
  };

  it('loads offers, then subscriptions naming them, into the store; warns of links to offers not loaded', async () => {
    const offers = run('scripts/offers-import.ts', [write('offers.jsonl', [plan, '', extra]), '--partner', 'demo'], env);
    assert.equal(offers.status, 0, offers.stderr);
    assert.match(offers.stdout, /imported 2 offer version\(s\) for demo/);
    assert.match(offers.stderr, /warning: offer cli-extra version v1: upgrades\.0 names offer cli-ghost/);
    const again = run('scripts/offers-import.ts', [path.join(dir, 'offers.jsonl'), '--partner', 'demo'], env);
    assert.equal(again.status, 0, 'the same versions again: a no-op');
    const subs = run('scripts/subscriptions-import.ts', [write('subs.jsonl', [sub]), '--partner', 'demo'], env);
    assert.equal(subs.status, 0, subs.stderr);
    assert.match(subs.stdout, /imported 1 subscription\(s\) for demo/);
    const store = await openSqliteStore(db);
    try {
      assert.equal((await store.shop.getOffer('demo', { id: 'cli-plan', version: 'v1' }))?.price, 999);
      assert.deepEqual((await store.shop.getSubscription('demo', 'cli-sub'))?.addOns, [{ id: 'cli-extra', version: 'v1' }]);
    } finally {
      await store.close();
    }
  });

  it('loads nothing when a line is bad, a version conflicts or an offer is missing, and says which line', async () => {
    const cases: [string, string, unknown[], RegExp][] = [
      ['scripts/offers-import.ts', 'bad-offers.jsonl', [{ ...plan, id: 'cli-new' }, { ...plan, id: 'cli-x', price: 1.234 }], /bad-offers\.jsonl:2: \/price .*\n.*nothing imported/],
      ['scripts/offers-import.ts', 'conflict-offers.jsonl', [{ ...plan, id: 'cli-new' }, { ...plan, price: 5 }], /offers:import: offer cli-plan version v1 \(line 2\) is already loaded with other content.*nothing imported/],
      ['scripts/subscriptions-import.ts', 'bad-subs.jsonl', [{ ...sub, id: 'cli-new' }, { ...sub, id: 'cli-sub-2', name: 'N2', offer: { id: 'cli-plan', version: 'v2' } }], /bad-subs\.jsonl:2: \/offer offer cli-plan version v2 does not exist/],
    ];
    for (const [script, name, lines, re] of cases) {
      const res = run(script, [write(name, lines), '--partner', 'demo'], env);
      assert.equal(res.status, 1, name);
      assert.match(res.stderr, re);
    }
    const store = await openSqliteStore(db);
    try {
      assert.equal(await store.shop.getOffer('demo', { id: 'cli-new', version: 'v1' }), null);
      assert.equal(await store.shop.getSubscription('demo', 'cli-new'), null);
    } finally {
      await store.close();
    }
  });
});
