/**
 * The multi-process suite, run once per server-backed store: three API processes (src/main.ts) and several
 * store-only child processes share one store, and the concurrency invariants must hold across them.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { SignJWT } from 'jose';
import { openStore } from '../../src/store/open.js';
import type { BasketKey, Store } from '../../src/store/store.js';
import { OPEN_KEY, TEST_PARTNERS, userHeaders } from '../http/harness.js';
import { startServerProcess } from '../helpers/server-process.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CHILD = fileURLToPath(new URL('./fixtures/store-child.ts', import.meta.url));

interface Line {
  productId: string;
  count: number;
}
interface Envelope {
  data: { cart: Line[] };
  error: { code: number } | null;
}

async function startServer(storeUrl: string, dataDir: string, children: ChildProcess[]): Promise<number> {
  const server = await startServerProcess({ STORE_URL: storeUrl, DATA_DIR: dataDir, PARTNERS_JSON: JSON.stringify(TEST_PARTNERS), PG_POOL_SIZE: '4' });
  children.push(server.child);
  return server.port;
}

interface StoreChild {
  proc: ChildProcessWithoutNullStreams;
  ready: Promise<void>;
  result: Promise<unknown>;
}

/** Store children still running; killed after the suite so that a failed test leaves none behind. */
const liveChildren = new Set<ChildProcess>();

function startChild(storeUrl: string, args: string[]): StoreChild {
  const proc = spawn(process.execPath, ['--import', 'tsx', CHILD, storeUrl, ...args], { cwd: ROOT, stdio: 'pipe' });
  liveChildren.add(proc);
  proc.on('exit', () => liveChildren.delete(proc));
  let err = '';
  proc.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const lines: string[] = [];
  const rl = createInterface({ input: proc.stdout });
  let onReady: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => (onReady = resolve));
  rl.on('line', (line) => {
    lines.push(line);
    if (line === 'ready') onReady();
  });
  const result = new Promise<unknown>((resolve, reject) => {
    proc.on('exit', (code) => {
      const summary = lines.find((l) => l.startsWith('{'));
      if (code !== 0 || summary === undefined) reject(new Error(`child failed (${code}):\n${err}`));
      else resolve(JSON.parse(summary));
    });
  });
  // A child that dies before "ready" must fail the test rather than hang it.
  const readyOrDead = Promise.race([ready, result.then(() => undefined)]);
  return { proc, ready: readyOrDead, result };
}

async function runTogether(children: StoreChild[]): Promise<unknown[]> {
  await Promise.all(children.map((c) => c.ready));
  for (const c of children) c.proc.stdin.end('go\n');
  return Promise.all(children.map((c) => c.result));
}

const product = (productId: string, stock: number | null) => ({
  productId,
  variant: null,
  mainProductIdentifier: null,
  name: productId,
  brand: null,
  price: 100,
  currency: 'EUR',
  taxRateBp: 1900,
  stock,
  shopSource: null,
  slug: null,
  images: [],
});

export function multiProcessSuite(name: string, setup: () => Promise<{ url: string; cleanup: () => Promise<void> }>): void {
  describe(`three processes on one ${name} store`, { timeout: 110_000 }, () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'basket-mp-store-'));
    const servers: ChildProcess[] = [];
    const ports: number[] = [];
    let url = '';
    let cleanup: () => Promise<void> = async () => undefined;
    let store: Store;
    const secret = new TextEncoder().encode(TEST_PARTNERS[1]!.jwt.secret!);
    const token = (user: string): Promise<string> =>
      new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject(user).setIssuedAt().setExpirationTime('10m').sign(secret);

    before(async () => {
      ({ url, cleanup } = await setup());
      // The first process creates the service key in DATA_DIR; the other two then start (and migrate) together.
      ports.push(await startServer(url, dataDir, servers));
      ports.push(...(await Promise.all([startServer(url, dataDir, servers), startServer(url, dataDir, servers)])));
      store = await openStore(url);
    });
    after(async () => {
      for (const c of liveChildren) c.kill('SIGKILL');
      for (const s of servers) s.kill('SIGTERM');
      await Promise.all(servers.map((s) => (s.exitCode === null ? new Promise((r) => s.once('exit', r)) : undefined)));
      await store?.close();
      rmSync(dataDir, { recursive: true, force: true });
      await cleanup();
    });

    async function call(i: number, method: string, pathName: string, jwt: string, body?: unknown): Promise<{ status: number; body: Envelope }> {
      const res = await fetch(`http://127.0.0.1:${ports[i % ports.length]}${pathName}`, {
        method,
        headers: { ...userHeaders(OPEN_KEY, jwt), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      return { status: res.status, body: (await res.json()) as Envelope };
    }

    it('200 parallel assigns over three processes: exactly 20 acknowledged, exactly those in the cart', async () => {
      const user = `mp-${randomUUID()}`;
      const jwt = await token(user);
      const results = await Promise.all(
        Array.from({ length: 200 }, (_, i) =>
          call(i, 'POST', `/v2/baskets/users/${user}/products/race-${i}`, jwt, { count: 1 }).then((r) => ({ id: `race-${i}`, ...r })),
        ),
      );
      const ok = results.filter((r) => r.status === 200).map((r) => r.id);
      assert.equal(ok.length, 20, `statuses: ${[...new Set(results.map((r) => r.status))].join(',')}`);
      assert.equal(results.filter((r) => r.status === 422 && r.body.error?.code === 2008).length, 180);
      for (let i = 0; i < 3; i++) {
        const read = await call(i, 'GET', `/v2/baskets/users/${user}`, jwt);
        assert.deepEqual(read.body.data.cart.map((l) => l.productId).sort(), [...ok].sort());
      }
    });

    it('parallel PATCH and DELETE over three processes lose no update', async () => {
      const user = `mp-${randomUUID()}`;
      const jwt = await token(user);
      for (let i = 0; i < 20; i++) assert.equal((await call(i, 'POST', `/v2/baskets/users/${user}/products/p${i}`, jwt, { count: 1 })).status, 200);
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          i % 2 === 0
            ? call(i, 'PATCH', `/v2/baskets/users/${user}/products/p${i}`, jwt, { count: i + 2 })
            : call(i, 'DELETE', `/v2/baskets/users/${user}/products/p${i}`, jwt),
        ),
      );
      for (const r of results) assert.equal(r.status, 200);
      const basket = (await call(1, 'GET', `/v2/baskets/users/${user}`, jwt)).body.data;
      assert.deepEqual(
        basket.cart.map((l) => `${l.productId}:${l.count}`),
        Array.from({ length: 10 }, (_, k) => `p${2 * k}:${2 * k + 2}`),
      );
    });

    it('three processes reserving one product at once never oversell', async () => {
      const partner = `mp-${randomUUID()}`;
      await store.upsertProducts(partner, [product('A', 25)]);
      const results = await runTogether([0, 1, 2].map(() => startChild(url, ['reserve', partner, 'A', '40'])));
      const ok = results.reduce<number>((sum, r) => sum + (r as { ok: number }).ok, 0);
      const refused = results.reduce<number>((sum, r) => sum + (r as { refused: number }).refused, 0);
      assert.equal(ok, 25);
      assert.equal(refused, 95);
      const a = (await store.getProducts(partner, ['A'])).get('A');
      assert.equal(a?.reserved, 25);
      assert.equal(a?.stock, 25);
    });

    it('three processes incrementing one basket at once lose no update', async () => {
      const key: BasketKey = { partnerId: `mp-${randomUUID()}`, userId: `u-${randomUUID()}` };
      const results = await runTogether([0, 1, 2].map(() => startChild(url, ['increment', key.partnerId, key.userId, '50'])));
      const seen = results.flatMap((r) => (r as { seen: number[] }).seen).sort((x, y) => x - y);
      assert.deepEqual(seen, Array.from({ length: 150 }, (_, i) => i + 1), 'every increment saw a distinct value');
      const stored = await store.getBasket(key);
      assert.equal(stored?.state.cart[0]?.count, 150);
      assert.equal(stored?.version, 150);
    });

    it('a basket change made in another process reaches a listener here', async () => {
      const key: BasketKey = { partnerId: `mp-${randomUUID()}`, userId: `u-${randomUUID()}` };
      const seen: BasketKey[] = [];
      const off = store.onBasketChange((k) => {
        if (k.userId === key.userId) seen.push(k);
      });
      try {
        await runTogether([startChild(url, ['touch', key.partnerId, key.userId])]);
        const deadline = Date.now() + 5000;
        while (seen.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
        assert.deepEqual(seen, [key]);
      } finally {
        off();
      }
    });
  });
}
