/**
 * A killed process loses no acknowledged write: a real server takes assigns until it is SIGKILLed mid-stream;
 * a new process on the same store must show every line whose assign was answered 200.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SignJWT } from 'jose';
import { OPEN_KEY, TEST_PARTNERS, TEST_STORE, testStore, userHeaders } from './harness.js';
import { startServerProcess, stopProcesses, type ServerProcess } from '../helpers/server-process.js';

describe(`a SIGKILLed server loses no acknowledged write (${TEST_STORE})`, () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'basket-crash-'));
  const store = testStore(dataDir);
  const env = { DATA_DIR: dataDir, STORE_URL: store.url, PARTNERS_JSON: JSON.stringify(TEST_PARTNERS), RUN_WORKERS: 'false' };
  const servers: ServerProcess[] = [];
  const secret = new TextEncoder().encode(TEST_PARTNERS[1]!.jwt.secret!);
  const token = (user: string) => new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject(user).setExpirationTime('10m').sign(secret);

  after(async () => {
    await stopProcesses(servers.map((s) => s.child));
    await store.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('every assign answered 200 before the kill is there after a restart', async () => {
    const first = await startServerProcess(env);
    servers.push(first);
    const users = Array.from({ length: 10 }, (_, i) => `crash-${i}`);
    const tokens = new Map(await Promise.all(users.map(async (u) => [u, await token(u)] as const)));
    const acknowledged: { user: string; productId: string; count: number }[] = [];
    let sent = 0;
    // 10 users × up to 15 products, 8 requests in flight; the kill lands while requests are under way
    const work = users.flatMap((user) => Array.from({ length: 15 }, (_, k) => ({ user, productId: `p${k}`, count: 1 + (k % 5) })));
    let next = 0;
    const lanes = Array.from({ length: 8 }, async () => {
      while (next < work.length) {
        const w = work[next++]!;
        sent++;
        if (sent === 60) first.child.kill('SIGKILL');
        try {
          const res = await fetch(`http://127.0.0.1:${first.port}/v2/baskets/users/${w.user}/products/${w.productId}`, {
            method: 'POST',
            headers: { ...userHeaders(OPEN_KEY, tokens.get(w.user)!), 'content-type': 'application/json' },
            body: JSON.stringify({ count: w.count }),
          });
          if (res.status === 200) acknowledged.push(w);
        } catch {
          // connection refused or reset: the process is gone; nothing was acknowledged
        }
      }
    });
    await Promise.all(lanes);
    assert.ok(acknowledged.length >= 20, `only ${acknowledged.length} writes were acknowledged before the kill`);
    assert.ok(acknowledged.length < work.length, 'the kill happened while requests were under way');

    const second = await startServerProcess(env);
    servers.push(second);
    for (const user of users) {
      const res = await fetch(`http://127.0.0.1:${second.port}/v2/baskets/users/${user}`, { headers: userHeaders(OPEN_KEY, tokens.get(user)!) });
      const cart = ((await res.json()) as { data: { cart: { productId: string; count: number }[] } }).data.cart;
      const have = new Map(cart.map((l) => [l.productId, l.count]));
      for (const a of acknowledged.filter((x) => x.user === user)) {
        assert.equal(have.get(a.productId), a.count, `${user}/${a.productId} was acknowledged but is missing`);
      }
    }
  });
});
