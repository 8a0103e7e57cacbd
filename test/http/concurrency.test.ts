import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SignJWT } from 'jose';
import { OPEN_KEY, startTestServer, TEST_PARTNERS, TEST_STORE, testStore, userHeaders, type EnvelopeBody, type TestServer } from './harness.js';
import { startServerProcess, stopProcesses } from '../helpers/server-process.js';

interface Line {
  productId: string;
  count: number;
}
interface Basket {
  cart: Line[];
  saved: Line[];
}

/** 200 assigns of distinct products at once: exactly 20 acknowledged, and exactly those in the cart. */
async function assertCartLimitUnderRace(send: (productId: string) => Promise<{ status: number; body: EnvelopeBody<Basket> }>, read: () => Promise<Basket>) {
  const results = await Promise.all(Array.from({ length: 200 }, (_, i) => send(`race-${i}`).then((r) => ({ id: `race-${i}`, ...r }))));
  const okIds = results.filter((r) => r.status === 200).map((r) => r.id);
  const refused = results.filter((r) => r.status === 422);
  assert.equal(okIds.length, 20, 'exactly 20 acknowledged');
  assert.equal(refused.length, 180);
  for (const r of refused) assert.equal(r.body.error?.code, 2008);
  const basket = await read();
  assert.equal(basket.cart.length, 20);
  assert.deepEqual(basket.cart.map((l) => l.productId).sort(), okIds.sort(), 'every acknowledged write is visible');
  for (const r of results.filter((x) => x.status === 200)) assert.ok(r.body.data.cart.length <= 20);
}

describe('concurrency in one process', () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer();
  });
  after(() => t.close());

  async function req(method: 'GET' | 'POST' | 'PATCH' | 'DELETE', user: string, productId?: string, body?: unknown) {
    const token = await t.openToken(user);
    const res = await t.server.app.inject({
      method,
      url: `/v2/baskets/users/${user}${productId ? `/products/${productId}` : ''}`,
      headers: userHeaders(OPEN_KEY, token, body === undefined ? {} : { 'content-type': 'application/json' }),
      ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
    });
    return { status: res.statusCode, body: res.json() as EnvelopeBody<Basket> };
  }

  it('200 parallel assigns leave exactly 20 products, all acknowledged ones', async () => {
    await assertCartLimitUnderRace(
      (id) => req('POST', 'racer', id, { count: 1 }),
      async () => (await req('GET', 'racer')).body.data,
    );
  });

  it('parallel PATCH and DELETE never lose an update', async () => {
    for (let i = 0; i < 20; i++) await req('POST', 'patcher', `p${i}`, { count: 1 });
    const ops = Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? req('PATCH', 'patcher', `p${i}`, { count: i + 2 }) : req('DELETE', 'patcher', `p${i}`)));
    const results = await Promise.all(ops);
    for (const r of results) assert.equal(r.status, 200);
    const basket = (await req('GET', 'patcher')).body.data;
    assert.deepEqual(
      basket.cart.map((l) => `${l.productId}:${l.count}`),
      Array.from({ length: 10 }, (_, k) => `p${2 * k}:${2 * k + 2}`),
    );
  });
});

describe(`concurrency across two server processes on one ${TEST_STORE} store`, () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'basket-mp-'));
  const store = testStore(dataDir);
  const children: ChildProcess[] = [];
  const ports: number[] = [];
  const secret = new TextEncoder().encode(TEST_PARTNERS[1]!.jwt.secret!);

  async function startProcess(): Promise<number> {
    const server = await startServerProcess({ DATA_DIR: dataDir, STORE_URL: store.url, PARTNERS_JSON: JSON.stringify(TEST_PARTNERS) });
    children.push(server.child);
    return server.port;
  }

  before(async () => {
    // one after the other: the first creates the schema and the service key, the second finds them
    ports.push(await startProcess());
    ports.push(await startProcess());
  });
  after(async () => {
    await stopProcesses(children);
    await store.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  async function token(user: string) {
    return new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject(user).setIssuedAt().setExpirationTime('10m').sign(secret);
  }

  it('200 parallel assigns spread over both processes leave exactly 20 products', async () => {
    const jwt = await token('mp-user');
    let n = 0;
    await assertCartLimitUnderRace(
      async (id) => {
        const port = ports[n++ % ports.length];
        const res = await fetch(`http://127.0.0.1:${port}/v2/baskets/users/mp-user/products/${id}`, {
          method: 'POST',
          headers: { ...userHeaders(OPEN_KEY, jwt), 'content-type': 'application/json' },
          body: '{"count":1}',
        });
        return { status: res.status, body: (await res.json()) as EnvelopeBody<Basket> };
      },
      async () => {
        const res = await fetch(`http://127.0.0.1:${ports[1]}/v2/baskets/users/mp-user`, { headers: userHeaders(OPEN_KEY, jwt) });
        return ((await res.json()) as EnvelopeBody<Basket>).data;
      },
    );
  });
});
